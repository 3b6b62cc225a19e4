"""The HTML report's style sheet and script, inlined into every report so it needs no network and no other file.

The script only reads the JSON block the page carries (``#report-data``: per image, one data URI per t and per
reference) and swaps ``src`` attributes; everything else — tables, charts, settings — is static HTML, readable
without JavaScript. Controls are native elements (``<input type=range>``, ``<select>``, radio buttons), so they
work from the keyboard; the image stage takes arrow keys to move the zoom region.
"""

from __future__ import annotations

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--panel:#f6f8fa;--accent:#1f6feb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
main{max-width:1240px;margin:0 auto;padding:18px 22px 40px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:0}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.chip{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:1px 10px;font-size:13px}
.chip b{font-weight:600}
details{margin:6px 0 0}summary{cursor:pointer;color:var(--muted)}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:3px 10px;text-align:right;white-space:nowrap}
th:first-child,td:first-child,th:nth-child(8),td:nth-child(8){text-align:left}
table.kv td{text-align:left}
tr.current td{background:#ddf4ff;font-weight:600}
.notes{color:var(--muted);font-size:13px;margin:6px 0;padding-left:18px}
section{border-top:1px solid var(--line);padding:16px 0 10px}
.bar{display:flex;flex-wrap:wrap;align-items:center;gap:8px 18px;margin:8px 0}
.bar label{display:flex;align-items:center;gap:6px}
input[type=range].tslider,#tall{width:220px;accent-color:var(--accent)}
.tval{font:600 15px ui-monospace,monospace;min-width:72px}
.stage{position:relative;display:grid;width:fit-content;touch-action:none;user-select:none;cursor:crosshair;
 outline-offset:3px}
.cell{grid-area:1/1;position:relative;overflow:hidden;width:var(--w);max-width:calc(min(100vw,1240px) - 48px);
 background:#000}
.cell img{display:block;width:100%;height:auto}
.zoom2 .cell img,img.lr{image-rendering:pixelated}
.mode-swipe .cell.a{clip-path:inset(0 calc(100% - var(--split,50%)) 0 0);z-index:1}
.divider{position:absolute;top:0;bottom:0;left:var(--split,50%);width:2px;margin-left:-1px;background:#fff;
 box-shadow:0 0 0 1px rgba(0,0,0,.45);z-index:2;pointer-events:none}
.mode-sbs .stage{grid-template-columns:auto auto;gap:8px}
.mode-sbs .cell{grid-area:auto;max-width:calc(min(100vw,1240px)/2 - 30px)}
.mode-sbs .divider,.mode-sbs .swipebar{display:none}
.tag{position:absolute;top:6px;left:6px;z-index:3;background:rgba(0,0,0,.62);color:#fff;font-size:12px;
 padding:1px 7px;border-radius:3px;pointer-events:none}
.mode-swipe .cell.b .tag{left:auto;right:6px}
.loupebox{position:absolute;z-index:3;border:2px solid #ffd33d;box-shadow:0 0 0 1px #000;pointer-events:none}
.mode-swipe .cell.a .loupebox{display:none}
.look>div:first-child{max-width:calc(var(--w) + 2px)}
.mode-sbs .look>div:first-child{max-width:none}
.hint{color:var(--muted);font-size:12px;margin:2px 0}
.swipe{display:block;margin:6px 0 0;width:var(--w);max-width:calc(min(100vw,1240px) - 48px)}
.look{display:flex;flex-wrap:wrap;align-items:flex-start;gap:12px 18px;margin:8px 0}
.crops{display:grid;grid-template-columns:repeat(2,var(--pane));gap:8px 10px}
.crop{margin:0}
.crop .win{width:var(--pane);height:var(--pane);overflow:hidden;position:relative;border:1px solid var(--line);
 background:#000}
.crop img{position:absolute;max-width:none;image-rendering:pixelated}
.crop figcaption{font-size:12px;color:var(--muted);max-width:var(--pane);overflow:hidden;text-overflow:ellipsis;
 white-space:nowrap}
.crop.student figcaption{color:var(--accent);font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:4px 10px}
.chart{font:11px system-ui,sans-serif;background:#fff}
.chart .frame{fill:none;stroke:#8c959f}.chart .grid{stroke:#eaeef2}.chart .tick{fill:#59636e}
.chart .axis{fill:#59636e}.chart .ctitle{font-weight:600;font-size:12px;fill:#1f2328}
.chart .series{fill:none;stroke-width:2}.chart .ref{stroke-width:1.5;stroke-dasharray:5 4}
.chart .cnote{fill:#8c959f}
.chart .tmark{fill:none;stroke:#1f2328;stroke-width:2}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:var(--muted);margin:2px 0 6px}
.legend i{display:inline-block;width:22px;height:0;border-top:2px dashed;vertical-align:middle;margin-right:5px}
.legend i.solid{border-top-style:solid}
footer{color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:10px}
"""

JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  function tText(i) { return "t = " + data.t_labels[i]; }
  function each(root, sel, fn) { Array.prototype.forEach.call(root.querySelectorAll(sel), fn); }
  function follow(root, i) {
    each(root, ".tmark", function (m) {
      var p = (m.getAttribute("data-pts").split(";")[i] || "").split(",");
      if (p.length < 2) { m.setAttribute("visibility", "hidden"); return; }
      m.setAttribute("cx", p[0]); m.setAttribute("cy", p[1]); m.removeAttribute("visibility");
    });
    each(root, "tr[data-ti]", function (r) { r.classList.toggle("current", +r.getAttribute("data-ti") === i); });
  }
  var viewers = [];
  each(document, "section.viewer", function (el) {
    var d = data.images[+el.getAttribute("data-index")];
    var slider = el.querySelector("input.tslider"), tval = el.querySelector(".tval");
    var stage = el.querySelector(".stage"), swipe = el.querySelector("input.swipe");
    var imgA = el.querySelector(".cell.a img"), imgB = el.querySelector(".cell.b img");
    var tagA = el.querySelector(".cell.a .tag"), tagB = el.querySelector(".cell.b .tag");
    var refSel = el.querySelector("select.refsel");
    var focus = d.focus.slice(), w = d.box[2], h = d.box[3], c = d.loupe, z = data.zoom;
    function setT() {
      var i = +slider.value;
      imgA.src = d.student[i];
      tagA.textContent = data.model + ", " + tText(i);
      tval.textContent = tText(i);
      slider.setAttribute("aria-valuetext", tText(i));
      each(el, ".crop.student img", function (im) { im.src = d.student[i]; });
      each(el, ".crop.student figcaption", function (f) { f.textContent = tText(i); });
      follow(el, i);
    }
    function setRef() {
      var r = d.refs[+refSel.value];
      imgB.src = "t" in r ? d.student[r.t] : r.src;
      imgB.classList.toggle("lr", r.lr);
      tagB.textContent = r.label;
    }
    function setSplit() { stage.style.setProperty("--split", swipe.value + "%"); }
    function setFocus() {
      focus[0] = Math.min(Math.max(focus[0], c / 2), w - c / 2);
      focus[1] = Math.min(Math.max(focus[1], c / 2), h - c / 2);
      var x0 = Math.round(focus[0] - c / 2), y0 = Math.round(focus[1] - c / 2);
      each(el, ".crop img", function (im) {
        im.style.width = w * z + "px"; im.style.height = h * z + "px";
        im.style.left = -x0 * z + "px"; im.style.top = -y0 * z + "px";
      });
      each(el, ".loupebox", function (b) {
        b.style.left = x0 / w * 100 + "%"; b.style.top = y0 / h * 100 + "%";
        b.style.width = c / w * 100 + "%"; b.style.height = c / h * 100 + "%";
      });
    }
    function setMode(mode) {
      el.classList.toggle("mode-swipe", mode === "swipe");
      el.classList.toggle("mode-sbs", mode === "sbs");
    }
    slider.addEventListener("input", setT);
    refSel.addEventListener("change", setRef);
    swipe.addEventListener("input", setSplit);
    each(el, "input.mode", function (r) { r.addEventListener("change", function () { setMode(r.value); }); });
    var down = null;
    function fraction(ev, cell) {
      var box = cell.getBoundingClientRect();
      return [(ev.clientX - box.left) / box.width, (ev.clientY - box.top) / box.height];
    }
    stage.addEventListener("pointerdown", function (ev) {
      down = { x: ev.clientX, y: ev.clientY, moved: false };
      stage.setPointerCapture(ev.pointerId);
    });
    stage.addEventListener("pointermove", function (ev) {
      if (!down || !el.classList.contains("mode-swipe")) return;
      if (Math.abs(ev.clientX - down.x) + Math.abs(ev.clientY - down.y) < 4 && !down.moved) return;
      down.moved = true;
      swipe.value = Math.round(Math.min(Math.max(fraction(ev, imgB.parentNode)[0], 0), 1) * 100);
      setSplit();
    });
    stage.addEventListener("pointerup", function (ev) {
      var cell = document.elementFromPoint(ev.clientX, ev.clientY);
      cell = cell && cell.closest ? cell.closest(".cell") : null;
      if (down && !down.moved && cell && stage.contains(cell)) {
        var f = fraction(ev, cell);
        focus = [f[0] * w, f[1] * h];
        setFocus();
      }
      down = null;
    });
    stage.addEventListener("keydown", function (ev) {
      var step = ev.shiftKey ? c : Math.max(2, Math.round(c / 4));
      var move = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[ev.key];
      if (!move) return;
      ev.preventDefault();
      focus = [focus[0] + move[0], focus[1] + move[1]];
      setFocus();
    });
    each(el, ".crop[data-ref] img", function (im) {
      im.src = d.refs[+im.closest(".crop").getAttribute("data-ref")].src;
    });
    setMode(el.querySelector("input.mode:checked").value);
    setRef(); setT(); setSplit(); setFocus();
    viewers.push({ slider: slider, setT: setT });
  });
  var all = document.getElementById("tall");
  var summary = document.getElementById("summary");
  function setAll() {
    var i = +all.value;
    document.getElementById("tallval").textContent = tText(i);
    all.setAttribute("aria-valuetext", tText(i));
    follow(summary, i);
    viewers.forEach(function (v) { v.slider.value = i; v.setT(); });
  }
  all.addEventListener("input", setAll);
  follow(summary, +all.value);
})();
"""
