//! A small reader for the subset of EDN that Jepsen writes in `history.edn`.
//!
//! Supported: maps, vectors, lists, sets, keywords, symbols, integers (negative too), floats
//! (kept as text), strings with the usual escapes, characters (`\a`, `\newline`, `\space`,
//! `\tab`, `\return`, `\formfeed`, `\backspace`, `\uXXXX`), `nil`, booleans, comments (`;`),
//! commas as whitespace, `#_` discards (the next form is skipped, so `#_ #_ a b` skips both),
//! and tagged forms (`#jepsen.history.Op{...}` reads as its map). Written here rather than
//! pulled in as a crate: the subset is small and errors must name the line.

use std::fmt;

/// One EDN value.
#[derive(Clone, Debug, PartialEq)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// A floating-point number, as written (histories use them only for fields we skip).
    Float(String),
    /// A string.
    Str(String),
    /// A character: `\a`, `\newline`, `\u00e9`.
    Char(char),
    /// A keyword, without its colon: `:invoke` is `Keyword("invoke")`.
    Keyword(String),
    /// A bare symbol.
    Symbol(String),
    /// `[...]` or `(...)`.
    List(Vec<Edn>),
    /// `#{...}`.
    Set(Vec<Edn>),
    /// `{...}`, in written order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value under keyword `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(name) if name == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = |f: &mut fmt::Formatter<'_>, items: &[Edn]| -> fmt::Result {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " ")?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Edn::Nil => write!(f, "nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Float(x) | Edn::Symbol(x) => write!(f, "{x}"),
            Edn::Str(s) => write!(f, "{s:?}"),
            Edn::Char(c) => match CHAR_NAMES.iter().find(|(_, named)| named == c) {
                Some((name, _)) => write!(f, "\\{name}"),
                None if c.is_control() => write!(f, "\\u{:04x}", u32::from(*c)),
                None => write!(f, "\\{c}"),
            },
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::List(items) => {
                write!(f, "[")?;
                seq(f, items)?;
                write!(f, "]")
            }
            Edn::Set(items) => {
                write!(f, "#{{")?;
                seq(f, items)?;
                write!(f, "}}")
            }
            Edn::Map(pairs) => {
                write!(f, "{{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// A syntax error, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdnError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for EdnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

/// Reads every top-level form of `text`, each with the line it starts on. A top-level vector
/// (some tools write the history as one `[...]`) is opened: its elements are returned instead.
pub fn read_all(text: &str) -> Result<Vec<(usize, Edn)>, EdnError> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        column: 1,
        depth: 0,
    };
    let mut forms = Vec::new();
    loop {
        reader.skip()?;
        let Some(c) = reader.peek() else {
            return Ok(forms);
        };
        if c == '[' {
            reader.bump();
            loop {
                reader.skip()?;
                match reader.peek() {
                    None => return Err(reader.error("unclosed `[`")),
                    Some(']') => {
                        reader.bump();
                        break;
                    }
                    Some(_) => {
                        let line = reader.line;
                        forms.push((line, reader.form()?));
                    }
                }
            }
        } else {
            let line = reader.line;
            forms.push((line, reader.form()?));
        }
    }
}

/// Reads exactly one form.
pub fn read_one(text: &str) -> Result<Edn, EdnError> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        column: 1,
        depth: 0,
    };
    let form = reader.form()?;
    reader.skip()?;
    if reader.peek().is_some() {
        return Err(reader.error("more than one form"));
    }
    Ok(form)
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    column: usize,
    /// Forms being read, one inside the other.
    depth: usize,
}

/// How deep forms may nest: histories need a handful of levels; the bound keeps a hostile file
/// from exhausting the stack.
const MAX_DEPTH: usize = 256;

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error(&self, message: impl Into<String>) -> EdnError {
        EdnError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    /// Skips blanks and `#_` discards. Each discard drops the next form, read in full; the
    /// discards in a row pair with the forms after them, so `#_ #_ a b` drops both.
    fn skip(&mut self) -> Result<(), EdnError> {
        // Where each discard still waiting for its form was written.
        let mut pending: Vec<(usize, usize)> = Vec::new();
        loop {
            self.skip_blank();
            if self.peek() == Some('#') && self.chars.get(self.pos + 1) == Some(&'_') {
                pending.push((self.line, self.column));
                self.bump();
                self.bump();
                continue;
            }
            let Some(&(line, column)) = pending.last() else {
                return Ok(());
            };
            let message = match self.peek() {
                None => "`#_` discards the next form, but the input ends".to_string(),
                Some(c @ (')' | ']' | '}')) => {
                    format!("`#_` discards the next form, but `{c}` closes the collection")
                }
                Some(_) => {
                    self.form()?;
                    pending.pop();
                    continue;
                }
            };
            return Err(EdnError {
                line,
                column,
                message,
            });
        }
    }

    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() || c == ',' {
                self.bump();
            } else if c == ';' {
                while self.peek().is_some_and(|c| c != '\n') {
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    fn form(&mut self) -> Result<Edn, EdnError> {
        self.skip()?;
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("forms nested deeper than {MAX_DEPTH}")));
        }
        self.depth += 1;
        let form = self.form_here();
        self.depth -= 1;
        form
    }

    /// The form that starts here (blanks already skipped).
    fn form_here(&mut self) -> Result<Edn, EdnError> {
        let Some(c) = self.peek() else {
            return Err(self.error("unexpected end of input"));
        };
        match c {
            '{' => {
                self.bump();
                let items = self.items('}')?;
                if items.len() % 2 != 0 {
                    return Err(self.error("a map needs an even number of forms"));
                }
                let mut pairs = Vec::with_capacity(items.len() / 2);
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    pairs.push((k, v));
                }
                Ok(Edn::Map(pairs))
            }
            '[' => {
                self.bump();
                Ok(Edn::List(self.items(']')?))
            }
            '(' => {
                self.bump();
                Ok(Edn::List(self.items(')')?))
            }
            '#' => {
                self.bump();
                match self.peek() {
                    Some('{') => {
                        self.bump();
                        Ok(Edn::Set(self.items('}')?))
                    }
                    Some(c) if c.is_alphabetic() => {
                        // A tag such as `#jepsen.history.Op`: read it, keep the tagged form.
                        self.token();
                        self.form()
                    }
                    _ => Err(self.error("unsupported `#` form")),
                }
            }
            '"' => self.string(),
            '\\' => self.character(),
            ')' | ']' | '}' => Err(self.error(format!("unexpected `{c}`"))),
            ':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return Err(self.error("empty keyword"));
                }
                Ok(Edn::Keyword(name))
            }
            _ => {
                let (line, column) = (self.line, self.column);
                let token = self.token();
                if token.is_empty() {
                    return Err(self.error(format!("unexpected `{c}`")));
                }
                atom(&token).map_err(|message| EdnError {
                    line,
                    column,
                    message,
                })
            }
        }
    }

    fn items(&mut self, close: char) -> Result<Vec<Edn>, EdnError> {
        let mut items = Vec::new();
        loop {
            self.skip()?;
            match self.peek() {
                None => return Err(self.error(format!("missing `{close}`"))),
                Some(c) if c == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => items.push(self.form()?),
            }
        }
    }

    fn token(&mut self) -> String {
        let mut token = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '{' | '}' | '"' | ';') {
                break;
            }
            token.push(c);
            self.bump();
        }
        token
    }

    /// A character literal: `\` and one character, or a name (`newline`, `uXXXX`, ...). The
    /// first character is taken whatever it is (`\(` is a parenthesis); letters and digits
    /// after it make a name.
    fn character(&mut self) -> Result<Edn, EdnError> {
        let (line, column) = (self.line, self.column);
        let at = |message: String| EdnError {
            line,
            column,
            message,
        };
        self.bump();
        let Some(first) = self.bump() else {
            return Err(at("a `\\` must be followed by a character".into()));
        };
        if first.is_whitespace() {
            return Err(at(
                "a `\\` must be followed by a character, not whitespace (write `\\space`)".into(),
            ));
        }
        let mut name = first.to_string();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric()) {
            name.push(c);
            self.bump();
        }
        if name.chars().count() == 1 {
            return Ok(Edn::Char(first));
        }
        if let Some((_, c)) = CHAR_NAMES.iter().find(|(n, _)| *n == name) {
            return Ok(Edn::Char(*c));
        }
        if let Some(hex) = name.strip_prefix('u')
            && hex.len() == 4
            && hex.chars().all(|c| c.is_ascii_hexdigit())
        {
            let code = u32::from_str_radix(hex, 16).unwrap_or(u32::MAX);
            return char::from_u32(code)
                .map(Edn::Char)
                .ok_or_else(|| at(format!("`\\{name}` is not a character (a surrogate code point)")));
        }
        Err(at(format!(
            "unknown character `\\{name}` (a single character, newline, space, tab, return, formfeed, backspace or uXXXX)"
        )))
    }

    fn string(&mut self) -> Result<Edn, EdnError> {
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some('"') => return Ok(Edn::Str(s)),
                Some('\\') => match self.bump() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('"') => s.push('"'),
                    Some('\\') => s.push('\\'),
                    _ => return Err(self.error("unsupported string escape")),
                },
                Some(c) => s.push(c),
            }
        }
    }
}

/// The named characters, as EDN writes them after the backslash.
const CHAR_NAMES: [(&str, char); 6] = [
    ("newline", '\n'),
    ("space", ' '),
    ("tab", '\t'),
    ("return", '\r'),
    ("formfeed", '\u{c}'),
    ("backspace", '\u{8}'),
];

/// A bare token: nil, a boolean, a number or a symbol.
fn atom(token: &str) -> Result<Edn, String> {
    match token {
        "nil" => return Ok(Edn::Nil),
        "true" => return Ok(Edn::Bool(true)),
        "false" => return Ok(Edn::Bool(false)),
        _ => {}
    }
    let first = token.chars().next().unwrap_or(' ');
    let second = token.chars().nth(1);
    let numeric =
        first.is_ascii_digit() || (matches!(first, '-' | '+') && second.is_some_and(|c| c.is_ascii_digit()));
    if !numeric {
        return Ok(Edn::Symbol(token.to_string()));
    }
    // `N` marks a big integer in Clojure; `M` a big decimal.
    let digits = token.strip_suffix('N').unwrap_or(token);
    if let Ok(i) = digits.parse::<i64>() {
        return Ok(Edn::Int(i));
    }
    let decimal = token.strip_suffix('M').unwrap_or(token);
    if decimal.parse::<f64>().is_ok() {
        return Ok(Edn::Float(token.to_string()));
    }
    Err(format!("not a number: `{token}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_jepsen_history_line() {
        let forms = read_all(
            "{:type :invoke, :f :cas, :value [-1 \"a\\\"b\"], :process 3, :time 12}\n\
             ; a comment\n\
             {:type :info, :f :start, :value nil, :process :nemesis, :ok? true}\n",
        )
        .unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].0, 1);
        assert_eq!(forms[1].0, 3);
        let op = &forms[0].1;
        assert_eq!(op.get("type"), Some(&Edn::Keyword("invoke".into())));
        assert_eq!(
            op.get("value"),
            Some(&Edn::List(vec![Edn::Int(-1), Edn::Str("a\"b".into())]))
        );
        assert_eq!(forms[1].1.get("value"), Some(&Edn::Nil));
        assert_eq!(forms[1].1.get("process"), Some(&Edn::Keyword("nemesis".into())));
        assert_eq!(forms[1].1.get("ok?"), Some(&Edn::Bool(true)));
    }

    #[test]
    fn opens_a_top_level_vector_and_reads_tags_and_sets() {
        let forms = read_all("[#jepsen.history.Op{:value #{1 2}}\n {:value (3 4.5)}]").unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[1].0, 2);
        assert_eq!(
            forms[0].1.get("value"),
            Some(&Edn::Set(vec![Edn::Int(1), Edn::Int(2)]))
        );
        assert_eq!(
            forms[1].1.get("value"),
            Some(&Edn::List(vec![Edn::Int(3), Edn::Float("4.5".into())]))
        );
    }

    #[test]
    fn discards_skip_the_next_form_and_nest() {
        let forms = read_all("#_{:a 1}\n{:b #_ #_ 2 3 4 :c [1 #_(x y) 5] #_:gone}").unwrap();
        assert_eq!(forms.len(), 1);
        assert_eq!(forms[0].0, 2);
        assert_eq!(forms[0].1.get("b"), Some(&Edn::Int(4)));
        assert_eq!(
            forms[0].1.get("c"),
            Some(&Edn::List(vec![Edn::Int(1), Edn::Int(5)]))
        );
        // Inside a top-level vector, and a discard of a discarded form's neighbour.
        let forms = read_all("[#_ {:x 1} {:y 2}]").unwrap();
        assert_eq!(forms.len(), 1);
        assert_eq!(read_one("#_ 1 2").unwrap(), Edn::Int(2));
        // `#_x` with no space: the discard still reads a whole form.
        assert_eq!(
            read_one("[#_x y]").unwrap(),
            Edn::List(vec![Edn::Symbol("y".into())])
        );
    }

    #[test]
    fn a_discard_with_nothing_to_discard_is_a_located_error() {
        let err = read_all("{:a 1}\n[1 #_]").unwrap_err();
        assert_eq!((err.line, err.column), (2, 4), "{err}");
        assert!(err.message.contains("closes the collection"), "{err}");
        let err = read_all("{:a 1} #_").unwrap_err();
        assert_eq!((err.line, err.column), (1, 8), "{err}");
        assert!(err.message.contains("input ends"), "{err}");
        // `#_ #_ a` has one form for two discards.
        let err = read_one("[#_ #_ a]").unwrap_err();
        assert!(err.message.contains("closes the collection"), "{err}");
        // The discarded form must itself be well formed.
        let err = read_one("[#_ {:a} 1]").unwrap_err();
        assert!(err.message.contains("even"), "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = read_one(&deep).unwrap_err();
        assert!(err.message.contains("nested deeper"), "{err}");
        let discards = format!("[{} 1]", "#_ ".repeat(100_000));
        assert!(read_one(&discards).is_err());
        let fine = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(read_one(&fine).is_ok());
    }

    #[test]
    fn characters_read_by_name_code_and_themselves() {
        let forms = read_one("[\\a \\newline \\space \\tab \\return \\u00e9 \\( \\\\ \\7]").unwrap();
        assert_eq!(
            forms,
            Edn::List(
                ['a', '\n', ' ', '\t', '\r', 'é', '(', '\\', '7']
                    .into_iter()
                    .map(Edn::Char)
                    .collect()
            )
        );
        // A character ends at a delimiter: `\a]` closes the vector.
        assert_eq!(read_one("[\\a]").unwrap(), Edn::List(vec![Edn::Char('a')]));
        // Printed back the way they are written.
        assert_eq!(read_one("\\newline").unwrap().to_string(), "\\newline");
        assert_eq!(Edn::Char('x').to_string(), "\\x");
        assert_eq!(Edn::Char('\u{1}').to_string(), "\\u0001");
    }

    #[test]
    fn malformed_characters_are_located_errors() {
        for (text, column, says) in [
            ("[1 \\foo]", 4, "unknown character"),
            ("[1 \\u12]", 4, "unknown character"),
            ("[1 \\uZZZZ]", 4, "unknown character"),
            ("[1 \\ud800]", 4, "surrogate"),
            ("[1 \\ x]", 4, "not whitespace"),
            ("[1 \\", 4, "followed by a character"),
        ] {
            let err = read_all(&format!("{{:a 1}}\n{text}")).unwrap_err();
            assert_eq!((err.line, err.column), (2, column), "{text}: {err}");
            assert!(err.message.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = read_all("{:a 1}\n{:b 2 :c}").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("even"), "{err}");
        let err = read_all("{:a \"open\n").unwrap_err();
        assert!(err.message.contains("unterminated"), "{err}");
        let err = read_one("-12x").unwrap_err();
        assert!(err.message.contains("not a number"), "{err}");
        assert_eq!(read_one("-12").unwrap(), Edn::Int(-12));
        assert_eq!(read_one("foo/bar").unwrap(), Edn::Symbol("foo/bar".into()));
    }
}
