// Live now: the server sends the calls in progress every second (server-sent events).
(function () {
  const body = document.querySelector("#live tbody");
  const status = document.getElementById("live-status");
  const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };
  const source = new EventSource("/console/live/events");
  source.onmessage = (message) => {
    const rows = JSON.parse(message.data);
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.sid = r.sid;
      tr.append(cell(r.caller), cell(r.flow), cell(r.step), cell(`${r.seconds} s`), cell(r.last_said));
      return tr;
    }));
    status.textContent = `${rows.length} call(s) in progress`;
  };
  source.onerror = () => { status.textContent = "reconnecting..."; };
})();
