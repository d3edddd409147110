//! Observer plumbing: sharing one observer with its creator, fanning out to several, and the
//! payload text exports show.

use super::*;

/// An observer shared with its creator, so its results can be read after the run (the engine
/// owns the boxed observer while it runs). Single-threaded, like the run.
#[derive(Debug)]
pub struct SharedObserver<O>(Rc<RefCell<O>>);

/// Wraps `observer` for `Sim::set_observer` and returns a handle to it for after the run.
pub fn shared<O>(observer: O) -> (SharedObserver<O>, Rc<RefCell<O>>) {
    let cell = Rc::new(RefCell::new(observer));
    (SharedObserver(cell.clone()), cell)
}

impl<O: Observer> Observer for SharedObserver<O> {
    #[inline]
    fn on_event(&mut self, record: &EventRecord, detail: EventDetail<'_>) {
        self.0.borrow_mut().on_event(record, detail);
    }
}

/// Several observers in one, called in order (the engine takes a single observer).
pub struct Observers(pub Vec<Box<dyn Observer>>);

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Observers({})", self.0.len())
    }
}

impl Observer for Observers {
    fn on_event(&mut self, record: &EventRecord, detail: EventDetail<'_>) {
        for o in &mut self.0 {
            o.on_event(record, detail);
        }
    }
}

/// Collects the `Debug` text of every event's payload, aligned with the records, for exports
/// (the compact trace stores only payload digests). Texts longer than `max_len` are cut.
#[derive(Clone, Debug)]
pub struct DetailText {
    /// One entry per record seen, empty when the event has no payload.
    pub texts: Vec<String>,
    /// Longest text kept, in bytes.
    pub max_len: usize,
}

impl DetailText {
    /// A collector keeping at most `max_len` bytes per payload.
    pub fn new(max_len: usize) -> DetailText {
        DetailText {
            texts: Vec::new(),
            max_len,
        }
    }
}

impl Observer for DetailText {
    fn on_event(&mut self, _record: &EventRecord, detail: EventDetail<'_>) {
        let mut text = match detail {
            EventDetail::None => String::new(),
            EventDetail::Message(m) => format!("{m:?}"),
            EventDetail::Timer(t) => format!("{t:?}"),
            EventDetail::Fault(f) => f.to_string(),
            EventDetail::Note(n) => n.to_string(),
        };
        if text.len() > self.max_len {
            let mut cut = self.max_len;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        self.texts.push(text);
    }
}
