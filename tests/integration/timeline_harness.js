// Runs the HTML timeline's script (scenarios/src/export/timeline.js) under node with a stand-in
// for the DOM and the canvas, and prints what it drew as JSON: every text with its position and
// width, the status element's data, and the lanes' extent. Used by tests/integration/first_hour.rs.
//
// usage: node timeline_harness.js PAGE.html WIDTH HEIGHT [HASH]
"use strict";
const fs = require("fs");
const [page, width, height, hash] = process.argv.slice(2);
const html = fs.readFileSync(page, "utf8");
const data = /<script type="application\/json" id="ruckus-data">([\s\S]*?)<\/script>/.exec(html)[1];
const script = /<script>\n([\s\S]*?)<\/script>/.exec(html)[1];
const W = Number(width), H = Number(height);

const texts = [];
let font = "10px sans-serif";
// Text width: 0.6 of the font size per character, a fair stand-in for a sans-serif face.
const measure = (t) => ({ width: String(t).length * 0.6 * parseFloat(/(\d+)px/.exec(font)[1]) });
const ctx = new Proxy({}, {
  get(target, key) {
    if (key === "measureText") return measure;
    if (key === "fillText") return (t, x, y) => texts.push({ text: String(t), x, y, width: measure(t).width });
    if (key === "font") return font;
    if (key in target) return target[key];
    return () => {};
  },
  set(target, key, value) {
    if (key === "font") font = value;
    target[key] = value;
    return true;
  },
});
function element(id) {
  return {
    id, dataset: {}, style: {}, hidden: false, textContent: "", checked: true, className: "",
    classList: { add() {}, remove() {}, toggle() {} },
    addEventListener() {}, appendChild() {},
    getBoundingClientRect: () => ({ left: 0, top: 0, width: 100, height: 20 }),
  };
}
const elements = {};
const canvas = Object.assign(element("canvas"), {
  clientWidth: W, clientHeight: H, getContext: () => ctx,
  getBoundingClientRect: () => ({ left: 0, top: 0, width: W, height: H }),
});
elements.canvas = canvas;
elements["ruckus-data"] = Object.assign(element("ruckus-data"), { textContent: data });
global.document = {
  getElementById: (id) => elements[id] || (elements[id] = element(id)),
  createElement: (tag) => element(tag),
  createTextNode: (t) => ({ t }),
};
global.window = { addEventListener() {}, devicePixelRatio: 1, location: { hash: hash || "" } };
global.requestAnimationFrame = (f) => f();
new Function(script)();
process.stdout.write(JSON.stringify({ width: W, height: H, texts, status: elements.status.dataset }));
