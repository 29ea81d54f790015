"""The stepper's HTML page: its style, its script, and the one function that assembles it.

The page is one self-contained file (no network): the SVG inline, the steps as JSON in
``window.minigradSteps``, and a small script that highlights each step's parts of the
picture and writes the step's text into an ``aria-live`` region.
"""
from __future__ import annotations

import html
import json

_STYLE = """
body{font-family:system-ui,Helvetica,Arial,sans-serif;margin:0;color:#222}
header{padding:8px 12px;border-bottom:1px solid #ddd;background:#fafafa;
  display:flex;flex-wrap:wrap;gap:8px;align-items:center}
header h1{font-size:16px;margin:0 12px 0 0}
button{font-size:14px;padding:3px 10px}
#mg-main{display:flex;height:calc(100vh - 50px)}
#mg-graph{flex:1 1 55%;overflow:auto;border-right:1px solid #ddd;padding:6px}
#mg-graph svg{max-width:100%;height:auto}
#mg-panel{flex:1 1 45%;overflow:auto;padding:8px 12px;font-size:14px}
#mg-live{font-size:15px;background:#fff8e6;border-left:4px solid #e6a100;padding:6px 8px;margin:0 0 8px}
.mg-phase{font-weight:bold;text-transform:uppercase;font-size:12px;color:#666}
table.mg-array{border-collapse:collapse;margin:2px 0 6px}
table.mg-array td{border:1px solid #ddd;padding:1px 5px;font-family:monospace;font-size:12px;text-align:right}
table.mg-leaves{border-collapse:collapse}
table.mg-leaves td,table.mg-leaves th{border-bottom:1px solid #eee;padding:3px 6px;vertical-align:top;text-align:left}
.mg-formula{font-family:monospace;background:#f4f4f4;padding:4px 6px;white-space:pre-wrap}
.mg-send{border:1px solid #ddd;border-radius:4px;padding:4px 6px;margin:4px 0}
.mg-send.mg-acc{border-color:#e6a100;background:#fffbf0}
.mg-notes{font-size:12px;color:#555}
.mg-mathml{font-size:17px;margin:4px 0 2px 6px}
g.mg-current{filter:drop-shadow(0 0 4px #d62728) drop-shadow(0 0 2px #d62728)}
g.mg-current ellipse,g.mg-current polygon{stroke:#d62728;stroke-width:3px}
g.mg-outgrad{filter:drop-shadow(0 0 4px #1f77b4)}
g.mg-ingrad{filter:drop-shadow(0 0 4px #2ca02c)}
g.mg-done ellipse{fill:#d9f0d3}
g.cluster.mg-current > polygon,g.cluster.mg-current > path{stroke:#d62728;stroke-width:4px}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  var steps = window.minigradSteps;
  var leaves = window.minigradLeaves;
  var mode = "over";
  var order = [];
  var position = 0;
  var svg = document.querySelector("#mg-graph svg");

  function visible(step) { return step.path === "both" || step.path === mode; }
  function rebuild(keepIndex) {
    order = [];
    for (var i = 0; i < steps.length; i++) { if (visible(steps[i])) order.push(i); }
    position = 0;
    for (var j = 0; j < order.length; j++) { if (order[j] <= keepIndex) position = j; }
  }
  function clusterElement(name) {
    if (!svg || !name) return null;
    var groups = svg.querySelectorAll("g.cluster");
    for (var i = 0; i < groups.length; i++) {
      var title = groups[i].querySelector("title");
      if (title && title.textContent === name) return groups[i];
    }
    return null;
  }
  function element(id) { return id ? document.getElementById(id) : null; }
  function mark(el, cls) { if (el) el.classList.add(cls); }
  function fmt(x) {
    if (typeof x !== "number") return String(x);
    if (x === 0) return "0";
    var a = Math.abs(x);
    return (a >= 1e4 || a < 1e-3) ? x.toExponential(3) : String(Number(x.toPrecision(4)));
  }
  function full(x) { return JSON.stringify(x); }
  function arrayHTML(values, summary) {
    if (values === null || values === undefined) return "<span>" + escapeText(summary || "(not shown)") + "</span>";
    if (!Array.isArray(values))
      return "<table class='mg-array'><tr><td title='" + full(values) + "'>" + fmt(values) + "</td></tr></table>";
    var rows = Array.isArray(values[0]) ? values : [values];
    var out = "<table class='mg-array'>";
    for (var r = 0; r < rows.length; r++) {
      out += "<tr>";
      var row = Array.isArray(rows[r]) ? rows[r] : [rows[r]];
      for (var c = 0; c < row.length; c++) {
        var cell = Array.isArray(row[c]) ? JSON.stringify(row[c]) : fmt(row[c]);
        out += "<td title='" + escapeText(full(row[c])) + "'>" + escapeText(cell) + "</td>";
      }
      out += "</tr>";
    }
    return out + "</table>";
  }
  function escapeText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/'/g, "&#39;").replace(/"/g, "&quot;");
  }
  function leafState(upTo) {
    var state = {};
    for (var i = 0; i < leaves.length; i++) state[leaves[i].name] = leaves[i].initial;
    for (var k = 0; k <= upTo; k++) {
      var step = steps[k];
      if (step.phase !== "backward" || !step.engine || !step.sends) continue;
      for (var s = 0; s < step.sends.length; s++) {
        var send = step.sends[s];
        if (send.leaf) state[send.leafName] = send.accumulated;
      }
    }
    return state;
  }
  function render() {
    var index = order[position];
    var step = steps[index];
    var marked = document.querySelectorAll(".mg-current,.mg-outgrad,.mg-ingrad,.mg-done");
    for (var m = 0; m < marked.length; m++)
      marked[m].classList.remove("mg-current", "mg-outgrad", "mg-ingrad", "mg-done");
    for (var p = 0; p < position; p++) {
      var earlier = steps[order[p]];
      if (earlier.phase === step.phase && earlier.op !== "seed") mark(element(earlier.node), "mg-done");
    }
    mark(element(step.node), "mg-current");
    mark(clusterElement(step.cluster), "mg-current");
    if (step.phase === "backward") {
      if (step.op !== "seed") mark(element(step.out), "mg-outgrad");
      (step.sends || []).forEach(function (send) { mark(element(send.to), "mg-ingrad"); });
    } else {
      mark(element(step.out), "mg-outgrad");
      (step.inputs || []).forEach(function (id) { mark(element(id), "mg-ingrad"); });
    }
    var target = element(step.node) || clusterElement(step.cluster);
    if (target && target.scrollIntoView) target.scrollIntoView({block: "nearest", inline: "nearest"});

    document.getElementById("mg-counter").textContent = "step " + (position + 1) + " of " + order.length;
    document.getElementById("mg-live").textContent = step.text;
    var body = "<div class='mg-phase'>" + step.phase +
      (step.path === "into" ? " · inside the norm (composite twin)" : "") + "</div>";
    if (step.phase === "forward") {
      if (step.value) body += "<h3>value</h3>" + arrayHTML(step.value.values, step.value.summary);
    } else {
      body += "<h3>incoming gradient g" + (step.op === "seed" ? " (the seed)" : "") + "</h3>" +
        arrayHTML(step.grad, step.gradSummary);
      if (step.formula)
        body += "<h3>VJP of " + escapeText(step.op) + "</h3><div class='mg-formula'>" +
          escapeText(step.formula) + "</div>";
      if (step.mathml) body += "<div class='mg-mathml'>" + step.mathml + "</div>";
      if (step.sends && step.sends.length) {
        body += "<h3>gradients sent to the inputs</h3>";
        step.sends.forEach(function (send) {
          var acc = send.of > 1;
          body += "<div class='mg-send" + (acc ? " mg-acc" : "") + "'><b>input " + send.index + ": " +
            escapeText(send.name) + "</b>";
          if (acc)
            body += " — contribution " + send.count + " of " + send.of + " (this tensor is used " + send.of +
              " times; its gradient is the sum)";
          body += arrayHTML(send.grad, send.summary);
          if (acc && send.accumulated !== null) body += "<div>sum so far:</div>" + arrayHTML(send.accumulated, "");
          body += "</div>";
        });
      }
    }
    document.getElementById("mg-step").innerHTML = body;
    var state = leafState(index);
    var rows = "";
    for (var i = 0; i < leaves.length; i++) {
      var value = state[leaves[i].name];
      rows += "<tr data-name='" + escapeText(leaves[i].name) + "' data-value='" +
        escapeText(JSON.stringify(value === undefined ? null : value)) + "'><th>" + escapeText(leaves[i].name) +
        "</th><td>" +
        (value === null || value === undefined ? "<i>no gradient yet</i>" : arrayHTML(value, "")) + "</td></tr>";
    }
    document.getElementById("mg-leaf-grads").innerHTML = rows;
    document.getElementById("mg-mode").textContent =
      mode === "into" ? "Step over norms (fused VJP)" : "Step into norms (composite ops)";
    document.getElementById("mg-mode").setAttribute("aria-pressed", mode === "into" ? "true" : "false");
    window.minigradCurrent = {index: index, position: position, mode: mode, count: order.length};
  }
  function go(to) { position = Math.max(0, Math.min(order.length - 1, to)); render(); }
  function toggle() { var keep = order[position]; mode = mode === "over" ? "into" : "over"; rebuild(keep); render(); }
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowRight") { go(position + 1); event.preventDefault(); }
    else if (event.key === "ArrowLeft") { go(position - 1); event.preventDefault(); }
    else if (event.key === "Home") { go(0); event.preventDefault(); }
    else if (event.key === "End") { go(order.length - 1); event.preventDefault(); }
    else if (event.key === "i" || event.key === "I") { toggle(); event.preventDefault(); }
  });
  document.getElementById("mg-first").addEventListener("click", function () { go(0); });
  document.getElementById("mg-prev").addEventListener("click", function () { go(position - 1); });
  document.getElementById("mg-next").addEventListener("click", function () { go(position + 1); });
  document.getElementById("mg-last").addEventListener("click", function () { go(order.length - 1); });
  document.getElementById("mg-mode").addEventListener("click", toggle);
  window.minigradGo = go;
  window.minigradToggleNorms = toggle;
  rebuild(0);
  render();
})();
"""


def _script_json(value) -> str:
    """JSON that is safe inside a <script> element (NaN and Infinity stay JavaScript values)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=True)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def page_html(title: str, svg: str, steps: list, leaves: list, notes: list) -> str:
    has_twins = any(step["path"] == "into" for step in steps)
    notes_html = "".join(f"<li>{html.escape(note)}</li>" for note in notes)
    mode_button = (
        '<button id="mg-mode" type="button" aria-pressed="false" title="key: I">Step into norms</button>'
        if has_twins else '<button id="mg-mode" type="button" hidden>Step into norms</button>'
    )
    return "".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        "<header>",
        f"<h1>{html.escape(title.splitlines()[0] if title else 'backward pass')}</h1>",
        '<button id="mg-first" type="button" title="key: Home">&#x00AB; first</button>',
        '<button id="mg-prev" type="button" title="key: ArrowLeft">&#x25C0; back</button>',
        '<button id="mg-next" type="button" title="key: ArrowRight">next &#x25B6;</button>',
        '<button id="mg-last" type="button" title="key: End">last &#x00BB;</button>',
        mode_button,
        '<span id="mg-counter"></span>',
        "</header><div id='mg-main'>",
        f"<div id='mg-graph' aria-label='the computation graph'>{svg}</div>",
        "<div id='mg-panel'>",
        "<p id='mg-live' role='status' aria-live='polite'></p>",
        "<div id='mg-step'></div>",
        "<h3>gradients of the leaves so far</h3><table class='mg-leaves'><tbody id='mg-leaf-grads'></tbody></table>",
        f"<ul class='mg-notes'>{notes_html}</ul>",
        "<p class='mg-notes'>Keys: &#x2192; next, &#x2190; back, Home first, End last"
        + (", I step into / over norms" if has_twins else "") + ". Hover a number for all its digits.</p>",
        "</div></div>",
        f"<script>window.minigradSteps={_script_json(steps)};window.minigradLeaves={_script_json(leaves)};</script>",
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
    ])
