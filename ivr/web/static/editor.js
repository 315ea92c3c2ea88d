// The flow editor: YAML highlighting, live lint, key completion from the JSON Schema, and
// "try it" calls against the draft. Plain JavaScript, no build step.
(function () {
  const area = document.getElementById("yaml");
  if (!area) return;
  const name = area.dataset.name;
  const highlight = document.getElementById("highlight");
  const problemsList = document.getElementById("problems");
  const publish = document.getElementById("publish");
  const completions = document.getElementById("completions");
  let badLines = new Set();
  let schema = null;

  const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
  function paint() {
    highlight.innerHTML = area.value.split("\n").map((line, i) => {
      // Strings first (quotes are escaped, so the markup added later is never re-matched).
      let html = escape(line)
        .replace(/(&quot;.*?&quot;)/g, '<span class=s>$1</span>')
        .replace(/^(\s*-?\s*)([A-Za-z_][\w-]*)(:)/, '$1<span class=k>$2</span>$3')
        .replace(/(:\s+)(\d[\d:.-]*)\s*$/, '$1<span class=n>$2</span>')
        .replace(/^(\s*#.*)$/, '<span class=c>$1</span>');
      const cls = badLines.has(i + 1) ? ' class="bad-line"' : "";
      return `<div${cls}>${html || " "}</div>`;
    }).join("");
    highlight.scrollTop = area.scrollTop;
    highlight.scrollLeft = area.scrollLeft;
  }

  async function post(url, body) {
    const reply = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json",
      "X-CSRF-Token": document.querySelector("meta[name=csrf-token]").content}, body: JSON.stringify(body)});
    return reply.json();
  }

  let timer = null;
  let linted = 0;  // answers can arrive out of order: only the newest draft's is shown
  async function lint() {
    const asked = ++linted;
    const problems = await post("/console/api/lint", {name, yaml: area.value});
    if (asked !== linted) return;
    badLines = new Set(problems.filter((p) => p.severity === "error").map((p) => p.line));
    problemsList.innerHTML = problems.length ? problems.map((p) =>
      `<li class="${p.severity}">line ${p.line}: ${p.severity}: ${escape(p.message)}</li>`).join("")
      : '<li class="ok">No problems.</li>';
    // Publishing works on the saved version; unsaved edits must be saved (and clean) first.
    publish.disabled = badLines.size > 0 || area.dataset.dirty === "1" || publish.dataset.live === "1";
    paint();
    redraw();
  }

  // The map follows the draft; while the YAML does not load, the last map stays, marked stale.
  const map = document.getElementById("flow-map");
  const mapNote = document.getElementById("map-note");
  let drawn = 0;
  async function redraw() {
    if (!map) return;
    const asked = ++drawn;
    const reply = await post("/console/api/map", {name, yaml: area.value});
    if (asked !== drawn) return;
    if (reply.svg) {
      map.innerHTML = reply.svg;
      map.classList.remove("stale");
      mapNote.textContent = "boxes are steps, arrows are what callers say or press; it follows the draft as you type";
    } else {
      map.classList.add("stale");
      mapNote.textContent = "the draft does not load: the map shows the last version that did";
    }
  }
  area.addEventListener("input", () => {
    area.dataset.dirty = "1";
    publish.disabled = true;
    paint();
    clearTimeout(timer);
    timer = setTimeout(lint, 400);
  });
  area.addEventListener("scroll", paint);

  // Completion: the keys allowed where the cursor is, from the schema (Ctrl-Space shows them).
  function context() {
    const lines = area.value.slice(0, area.selectionStart).split("\n");
    const indent = lines[lines.length - 1].search(/\S|$/);
    const path = [];
    let level = indent;
    for (let i = lines.length - 2; i >= 0 && level > 0; i--) {
      const m = lines[i].match(/^(\s*)(-\s*)?([\w-]+):/);
      if (m && m[1].length + (m[2] ? m[2].length : 0) < level) {
        path.unshift({key: m[3], item: !!m[2]});
        level = m[1].length;
      }
    }
    return path;
  }
  function allowedKeys() {
    if (!schema) return [];
    const defs = schema.$defs;
    const path = context();
    if (path.length === 0) return Object.keys(schema.properties);
    if (path[0].key === "steps" && path.length === 2) {
      const block = area.value.slice(0, area.selectionStart);
      const kind = (block.match(/kind:\s*(\w+)\s*$/m) || block.match(/kind:\s*(\w+)[^]*$/) || [])[1];
      const byKind = {say: "Say", menu: "Menu", ask: "Menu", answer: "Answer", transfer: "Transfer",
        voicemail: "Voicemail", hangup: "Hangup", hours: "Hours"};
      return kind && defs[byKind[kind]] ? Object.keys(defs[byKind[kind]].properties) : ["kind"];
    }
    if (path[path.length - 1].key === "choices") return Object.keys(defs.Choice.properties);
    const named = {disclosure: "Prompt", routing: "Routing", emergencies: "Emergency"};
    const last = path[path.length - 1].key;
    if (named[last]) return Object.keys(defs[named[last]].properties);
    if (path[0].key === "people" && path.length === 2) return Object.keys(defs.Group.properties);
    return [];
  }
  area.addEventListener("keydown", (e) => {
    if (e.ctrlKey && e.code === "Space") {
      e.preventDefault();
      completions.textContent = "allowed here: " + (allowedKeys().join(", ") || "(a value)");
    }
  });
  fetch("/console/schema.json").then((r) => r.json()).then((s) => { schema = s; });

  // Try it: every turn replays the caller's inputs through the draft on the server.
  const inputs = [];
  const log = document.getElementById("try-log");
  async function run() {
    const at = document.getElementById("try-at").value || null;
    const reply = await post("/console/api/try", {name, yaml: area.value, inputs, at});
    if (reply.error) { log.innerHTML = `<p class="error">${escape(reply.error)}</p>`; return; }
    log.innerHTML = reply.lines.map((l) => `<p class="${l.who}"><b>${l.who}:</b> ${escape(l.text)}</p>`).join("");
    log.scrollTop = log.scrollHeight;
  }
  document.getElementById("try-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("try-input");
    inputs.push(input.value);
    input.value = "";
    run();
  });
  document.getElementById("try-reset").addEventListener("click", () => { inputs.length = 0; run(); });
  paint();
  run();
})();
