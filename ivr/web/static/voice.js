// "Talk with the microphone": the browser plays Twilio's part of a Media Stream. It sends
// 20 ms frames of 8 kHz mu-law from the microphone, plays the gateway's audio, echoes each
// mark when the audio before it has played, and drops what is queued on "clear".
(function () {
  const start = document.getElementById("voice-start");
  if (!start) return;
  const stop = document.getElementById("voice-stop");
  const log = document.getElementById("voice-log");
  const area = document.getElementById("yaml");
  const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

  function muLaw(sample) {  // G.711 mu-law of a float in [-1, 1]
    const BIAS = 0x84, CLIP = 32635;
    let s = Math.max(-1, Math.min(1, sample)) * 32767;
    const sign = s < 0 ? 0x80 : 0;
    s = Math.min(Math.abs(s), CLIP) + BIAS;
    let exponent = 7;
    for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
    const mantissa = (s >> (exponent + 3)) & 0x0f;
    return ~(sign | (exponent << 4) | mantissa) & 0xff;
  }
  function linear(byte) {
    byte = ~byte & 0xff;
    const sign = byte & 0x80, exponent = (byte >> 4) & 7, mantissa = byte & 0x0f;
    const s = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    return (sign ? -s : s) / 32768;
  }
  const b64 = (bytes) => btoa(String.fromCharCode.apply(null, bytes));

  let ws = null, ctx = null, mic = null, sources = [], pendingMarks = [], callSid = null;

  async function show() {
    if (!callSid) return;
    const reply = await (await fetch(`/console/api/voice-call/${callSid}`)).json();
    log.innerHTML = reply.lines.map((l) => `<p class="${l.who}"><b>${l.who}:</b> ${escape(l.text)}</p>`).join("");
    log.scrollTop = log.scrollHeight;
  }

  start.addEventListener("click", async () => {
    const reply = await fetch("/console/api/voice-call", {method: "POST", headers: {
      "Content-Type": "application/json", "X-CSRF-Token": document.querySelector("meta[name=csrf-token]").content},
      body: JSON.stringify({name: area.dataset.name, yaml: area.value})});
    const body = await reply.json();
    if (!reply.ok) { log.innerHTML = `<p class="error">${escape(body.error)}</p>`; return; }
    callSid = body.call_sid;
    const token = body.token;
    ctx = new AudioContext();
    mic = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true}});
    const source = ctx.createMediaStreamSource(mic);
    const processor = ctx.createScriptProcessor(2048, 1, 1);
    const ratio = ctx.sampleRate / 8000;
    let frame = [], stamp = 0, nextPlay = 0;
    const streamSid = "MZconsole" + Math.random().toString(16).slice(2);
    ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/console/media`);
    const send = (m) => ws.readyState === 1 && ws.send(JSON.stringify({...m, streamSid}));
    ws.onopen = () => {
      send({event: "connected", protocol: "Call", version: "1.0.0"});
      send({event: "start", start: {streamSid, callSid, tracks: ["inbound"], customParameters: {token}}});
      processor.onaudioprocess = (e) => {
        const input = e.inputBuffer.getChannelData(0);
        for (let i = 0; i + ratio <= input.length; i += ratio) {
          let sum = 0;  // average each block of samples: a crude low-pass before decimating
          for (let j = Math.floor(i); j < Math.floor(i + ratio); j++) sum += input[j];
          frame.push(muLaw(sum / Math.floor(ratio)));
          if (frame.length === 160) {
            stamp += 20;
            send({event: "media", media: {track: "inbound", timestamp: String(stamp), payload: b64(frame)}});
            frame = [];
          }
        }
      };
      source.connect(processor);
      processor.connect(ctx.destination);
      start.disabled = true; stop.disabled = false;
    };
    ws.onmessage = (message) => {
      const m = JSON.parse(message.data);
      if (m.event === "media") {
        const bytes = atob(m.media.payload);
        const buffer = ctx.createBuffer(1, bytes.length, 8000);
        const data = buffer.getChannelData(0);
        for (let i = 0; i < bytes.length; i++) data[i] = linear(bytes.charCodeAt(i));
        const player = ctx.createBufferSource();
        player.buffer = buffer;
        player.connect(ctx.destination);
        nextPlay = Math.max(nextPlay, ctx.currentTime);
        player.start(nextPlay);
        nextPlay += buffer.duration;
        sources.push(player);
      } else if (m.event === "mark") {
        const name = m.mark.name;
        const timer = setTimeout(() => { send({event: "mark", mark: {name}}); show(); },
                                 Math.max(0, (nextPlay - ctx.currentTime) * 1000));
        pendingMarks.push({name, timer});
      } else if (m.event === "clear") {
        sources.forEach((s) => s.stop());
        sources = []; nextPlay = ctx.currentTime;
        pendingMarks.forEach(({name, timer}) => { clearTimeout(timer); send({event: "mark", mark: {name}}); });
        pendingMarks = [];
      }
    };
    ws.onclose = () => { finish(); show(); };
  });

  function finish() {
    if (mic) mic.getTracks().forEach((t) => t.stop());
    if (ctx) ctx.close();
    mic = null; ctx = null;
    start.disabled = false; stop.disabled = true;
  }
  stop.addEventListener("click", () => {
    if (ws && ws.readyState === 1) ws.send(JSON.stringify({event: "stop", stop: {callSid}}));
    if (ws) ws.close();
    finish();
  });
})();
