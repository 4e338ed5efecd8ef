// unseen review page: plain JavaScript, no build step, no third-party code.
// Coordinates: region boxes are [x1, y1, x2, y2] in pixels of the upright picture (as in the
// plan); the view maps them to canvas pixels with `scale` and an offset.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const timeline = $("timeline");
  const HANDLE = 7; // handle half-size, CSS px
  const MIN_NEW = 6; // a drag shorter than this (CSS px) is a click, not a new region
  const TEXT_COLOUR = "#e05cff"; // text regions (signs, plates, badges); faces are blue or a track's hue

  const S = {
    files: [], failed: [], index: -1, detail: null, regions: [], whole: [], frame: 0,
    published: false, sel: -1, undo: [], redo: [], lastEdit: null,
    view: { scale: 1, ox: 0, oy: 0 }, original: null, preview: null, previewKey: "",
    drag: null, panTool: false, space: false, saving: 0, saveChain: Promise.resolve(),
    playing: false, exportState: "idle", loadToken: 0,
    revs: {}, // path -> the file's revision on the server, named by every edit (stale ones are refused)
    stale: "", // path of a file another tab changed: queued edits of it are dropped until it reloads
  };

  // ---------- server ----------
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const res = await fetch("api/" + path, init);
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(data.error || res.statusText), { status: res.status });
    return data;
  }
  async function post(path, body) {
    const res = await fetch("api/" + path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body || {}),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || res.statusText);
    return data;
  }
  function say(text, bad) {
    $("message").textContent = text;
    $("message").title = text;
    $("message").classList.toggle("bad", !!bad);
  }
  function setPending(n) {
    S.saving = n;
    document.body.dataset.saving = String(n);
    $("saved").textContent = n ? "saving…" : "all changes saved";
  }

  // Saves are chained so that they reach the server in the order they were made. Each names the
  // revision of the file it was made on (the one the previous save returned); the server refuses
  // an edit made on an older revision (another tab saved since), and the file is then reloaded.
  function save(extra) {
    const index = S.index;
    const path = S.files[index].path;
    const body = Object.assign({ regions: S.regions.map(clean) }, extra || {});
    if (S.detail && S.detail.kind === "video") body.whole_frames = S.whole;
    setPending(S.saving + 1);
    S.saveChain = S.saveChain.then(async () => {
      try {
        if (S.stale === path) return; // made on the stale copy: refused anyway
        body.revision = S.revs[path];
        const d = await api("file?i=" + index, body);
        S.revs[path] = d.revision;
        if (index === S.index) { S.detail = d; S.previewKey = ""; }
        const f = S.files[index];
        if (f) { f.regions = d.regions; f.text = d.text; f.text_off = d.text_off; f.status = d.status; f.audit = d.audit; }
        renderFiles();
        if (S.published) loadPreview();
      } catch (e) {
        say("not saved: " + e.message, true);
        if (e.status === 409) {
          S.stale = path;
          setTimeout(() => { if (S.files[S.index] && S.files[S.index].path === path) openFile(S.index); }, 0);
        }
      } finally {
        setPending(S.saving - 1);
      }
    });
    return S.saveChain;
  }
  function clean(r) {
    const o = { box: r.box.map((v) => Math.round(v * 10) / 10), shape: r.shape, detector: r.detector || "manual" };
    for (const k of ["score", "raw_box", "frame", "track"]) if (r[k] !== undefined && r[k] !== null) o[k] = r[k];
    if (r.kind && r.kind !== "face") o.kind = r.kind; // a text region stays text
    if (r.off) o.off = true; // switched off: kept by the server outside the plan, not painted
    return o;
  }

  // ---------- history ----------
  function snapshot() { return JSON.stringify({ r: S.regions, w: S.whole }); }
  function change(mutate) {
    const before = snapshot();
    mutate();
    if (snapshot() === before) return;
    S.undo.push(before);
    S.redo = [];
    save();
    draw(); drawTimeline(); updateButtons();
  }
  function restore(from, to) {
    if (!from.length) return;
    to.push(snapshot());
    const s = JSON.parse(from.pop());
    S.regions = s.r; S.whole = s.w; S.sel = -1;
    save(); draw(); drawTimeline(); renderSpans(); updateButtons();
  }

  // ---------- files ----------
  async function refresh() {
    let st;
    try { st = await api("state"); } catch (e) { say("server stopped: " + e.message, true); return; }
    const currentPath = S.files[S.index] && S.files[S.index].path;
    S.files = st.files; S.failed = st.failed;
    $("where").textContent = st.root + "  →  " + st.output;
    const scan = st.scan;
    $("scan").textContent = scan.state === "running"
      ? `finding faces: ${scan.done}/${scan.total} ${scan.current}` : st.pending.length ? `${st.pending.length} waiting` : "";
    if (currentPath) {
      const i = S.files.findIndex((f) => f.path === currentPath);
      if (i !== S.index) S.index = i;
    }
    renderFiles();
    showExport(st.export);
    if (S.index < 0 && S.files.length) openFile(0);
    $("empty").hidden = S.files.length > 0;
    if (!S.files.length && scan.state !== "running" && !st.pending.length) $("empty").textContent = "No photos or videos found.";
  }
  function renderFiles() {
    const ul = $("file-list");
    ul.textContent = "";
    S.files.forEach((f, i) => {
      const li = document.createElement("li");
      li.dataset.path = f.path;
      li.className = i === S.index ? "current" : "";
      const name = document.createElement("span");
      name.className = "name"; name.textContent = f.path; name.title = f.path;
      const meta = document.createElement("span");
      meta.className = "meta";
      const st = document.createElement("span");
      st.className = "st-" + f.status.replace(" ", "-");
      st.textContent = f.status;
      const text = f.text || f.text_off ? ` (${f.text} text${f.text_off ? `, ${f.text_off} off` : ""})` : "";
      meta.append(`${f.kind} · ${f.regions} region${f.regions === 1 ? "" : "s"}${text} · `, st);
      if (f.audit) {
        const a = document.createElement("span");
        a.className = f.audit === "clear" ? "audit-clear" : "audit-risk";
        a.textContent = " · audit: " + f.audit;
        meta.append(a);
      }
      li.append(name, meta);
      li.addEventListener("click", () => openFile(i));
      ul.append(li);
    });
    for (const f of S.failed) {
      const li = document.createElement("li");
      li.className = "failed"; li.textContent = f.path; li.title = f.error;
      ul.append(li);
    }
  }

  async function openFile(i) {
    if (i < 0 || i >= S.files.length) return;
    await S.saveChain;
    S.playing = false;
    const token = ++S.loadToken;
    const d = await api("file?i=" + i);
    if (token !== S.loadToken) return;
    S.revs[d.path] = d.revision;
    if (S.stale === d.path) S.stale = "";
    S.index = i; S.detail = d; S.regions = d.plan.regions; S.whole = d.plan.whole_frames || [];
    S.sel = -1; S.undo = []; S.redo = []; S.lastEdit = null; S.frame = 0;
    S.original = null; S.preview = null; S.previewKey = "";
    $("video").hidden = d.kind !== "video";
    if (d.kind === "video") {
      $("frame").max = d.frames - 1;
      $("frames").textContent = `/ ${d.frames - 1}` + (d.fps ? ` · ${d.fps.toFixed(2)} fps` : "");
      $("range-from").value = 0; $("range-to").value = Math.min(d.frames - 1, Math.round(d.fps || 25));
      renderSpans();
    }
    renderFiles(); updateButtons();
    layout(); await loadPicture(true);
    canvas.focus();
  }
  function pictureUrl(published) {
    let u = `picture?i=${S.index}`;
    if (S.detail.kind === "video") u += `&frame=${S.frame}`;
    if (published) u += `&published=1&v=${Date.now()}`;
    return "api/" + u;
  }
  function loadImage(url) {
    return new Promise((ok, fail) => {
      const img = new Image();
      img.onload = () => ok(img);
      img.onerror = () => fail(new Error("could not load " + url));
      img.src = url;
    });
  }
  async function loadPicture(fit) {
    const token = S.loadToken;
    const frame = S.frame;
    try {
      const img = await loadImage(pictureUrl(false));
      if (token !== S.loadToken || frame !== S.frame) return;
      S.original = img;
      if (fit) fitView();
      if (S.published) await loadPreview(); else draw();
      drawTimeline();
      document.body.dataset.loaded = S.files[S.index].path + "#" + S.frame;
    } catch (e) { say(e.message, true); }
  }
  async function loadPreview() {
    if (!S.detail) return;
    const key = `${S.index}:${S.frame}:${snapshot()}`;
    if (key === S.previewKey && S.preview) { draw(); return; }
    const token = S.loadToken;
    try {
      const img = await loadImage(pictureUrl(true));
      if (token !== S.loadToken) return;
      S.preview = img; S.previewKey = key;
      draw();
    } catch (e) { say(e.message, true); }
  }

  // ---------- view ----------
  function layout() {
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.max(1, Math.round(r.width * dpr));
    canvas.height = Math.max(1, Math.round(r.height * dpr));
    const tr = timeline.getBoundingClientRect();
    timeline.width = Math.max(1, Math.round(tr.width * dpr));
    timeline.height = Math.max(1, Math.round(tr.height * dpr));
  }
  function fitView() {
    if (!S.detail) return;
    const r = canvas.getBoundingClientRect();
    const s = Math.min(r.width / S.detail.width, r.height / S.detail.height) * 0.98;
    S.view = { scale: s, ox: (r.width - S.detail.width * s) / 2, oy: (r.height - S.detail.height * s) / 2 };
    draw();
  }
  function zoom(factor, cx, cy) {
    const r = canvas.getBoundingClientRect();
    if (cx === undefined) { cx = r.width / 2; cy = r.height / 2; }
    const v = S.view;
    const s = Math.min(40, Math.max(0.02, v.scale * factor));
    v.ox = cx - ((cx - v.ox) * s) / v.scale;
    v.oy = cy - ((cy - v.oy) * s) / v.scale;
    v.scale = s;
    draw();
  }
  const toView = (x, y) => [x * S.view.scale + S.view.ox, y * S.view.scale + S.view.oy];
  const toImage = (x, y) => [(x - S.view.ox) / S.view.scale, (y - S.view.oy) / S.view.scale];

  function visible() {
    const out = [];
    S.regions.forEach((r, i) => {
      if (S.detail.kind !== "video" || r.frame === S.frame) out.push(i);
    });
    return out;
  }
  function outlineColour(r) {
    return r.kind === "text" ? TEXT_COLOUR : trackColour(r.track);
  }
  function trackColour(t) {
    if (t === undefined || t === null) return "#3d8bfd";
    return `hsl(${(t * 67) % 360} 90% 60%)`;
  }
  function shapePath(c, box) {
    const [a, b] = toView(box[0], box[1]);
    const [e, f] = toView(box[2], box[3]);
    c.beginPath();
    return [a, b, e, f];
  }
  function draw() {
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!S.detail || !S.original) return;
    const v = S.view;
    const base = S.published && S.preview ? S.preview : S.original;
    ctx.imageSmoothingEnabled = v.scale < 2;
    ctx.drawImage(base, v.ox, v.oy, S.detail.width * v.scale, S.detail.height * v.scale);
    const whole = S.detail.kind === "video" && S.whole.some(([a, b]) => a <= S.frame && S.frame <= b);
    if (whole && !S.published) {
      ctx.fillStyle = "rgba(248,81,73,.35)";
      ctx.fillRect(v.ox, v.oy, S.detail.width * v.scale, S.detail.height * v.scale);
    }
    for (const i of visible()) {
      const r = S.regions[i];
      const selected = i === S.sel;
      if (S.published && !selected && !(S.drag && S.drag.index === i)) continue;
      const [a, b, e, f] = shapePath(ctx, r.box);
      outline(ctx, r.shape, a, b, e, f);
      if (S.published && !r.off) {
        ctx.fillStyle = "rgba(128,128,128,.85)"; ctx.fill();
      }
      if (r.off) { // switched off (not painted): dotted on a dark line, so it shows on any picture
        ctx.lineWidth = 3.5; ctx.strokeStyle = "rgba(0,0,0,.55)"; ctx.stroke();
      }
      ctx.lineWidth = selected ? 2.5 : r.off ? 2 : 1.5;
      ctx.setLineDash(r.off ? [3, 3] : r.detector === "manual" ? [6, 3] : []);
      ctx.strokeStyle = selected ? "#ffd33d" : outlineColour(r);
      ctx.stroke();
      ctx.setLineDash([]);
      if (selected) {
        ctx.strokeStyle = "rgba(255,211,61,.6)"; ctx.lineWidth = 1;
        ctx.strokeRect(a, b, e - a, f - b);
        ctx.fillStyle = "#ffd33d";
        for (const [hx, hy, name] of handles(r.box)) {
          if (name !== "move") { ctx.fillRect(hx - HANDLE / 2, hy - HANDLE / 2, HANDLE, HANDLE); continue; }
          ctx.beginPath(); ctx.arc(hx, hy, HANDLE * 0.9, 0, Math.PI * 2); ctx.fill();
          ctx.strokeStyle = "#15171a"; ctx.lineWidth = 1.5; ctx.stroke();
        }
      }
    }
    if (S.drag && S.drag.mode === "new") {
      const [a, b] = S.drag.start, [e, f] = S.drag.now;
      ctx.strokeStyle = "#ffd33d"; ctx.lineWidth = 2; ctx.setLineDash([4, 3]);
      ctx.strokeRect(Math.min(a, e), Math.min(b, f), Math.abs(e - a), Math.abs(f - b));
      ctx.setLineDash([]);
    }
    const vis = visible();
    $("saved").dataset.regions = String(vis.filter((i) => !S.regions[i].off).length); // painted ones
    $("saved").dataset.off = String(vis.length - Number($("saved").dataset.regions));
  }
  function handles(box) {
    const [a, b] = toView(box[0], box[1]);
    const [e, f] = toView(box[2], box[3]);
    const mx = (a + e) / 2, my = (b + f) / 2;
    return [[a, b, "nw"], [mx, b, "n"], [e, b, "ne"], [e, my, "e"], [e, f, "se"], [mx, f, "s"], [a, f, "sw"], [a, my, "w"],
      [mx, my, "move"]];
  }

  // ---------- pointer ----------
  function hit(px, py) {
    if (S.sel >= 0 && visible().includes(S.sel)) {
      for (const [hx, hy, name] of handles(S.regions[S.sel].box)) {
        if (Math.abs(px - hx) <= HANDLE && Math.abs(py - hy) <= HANDLE) return { index: S.sel, handle: name };
      }
    }
    const vis = visible();
    let best = null;
    for (let k = vis.length - 1; k >= 0; k--) {
      const r = S.regions[vis[k]];
      const [a, b] = toView(r.box[0], r.box[1]);
      const [e, f] = toView(r.box[2], r.box[3]);
      if (px >= a && px <= e && py >= b && py <= f) {
        const area = (e - a) * (f - b);
        if (!best || area < best.area) best = { index: vis[k], handle: null, area };
      }
    }
    return best;
  }
  function local(ev) {
    const r = canvas.getBoundingClientRect();
    return [ev.clientX - r.left, ev.clientY - r.top];
  }
  canvas.addEventListener("pointerdown", (ev) => {
    if (!S.detail) return;
    canvas.focus();
    canvas.setPointerCapture(ev.pointerId);
    const [px, py] = local(ev);
    if (ev.button === 1 || ev.button === 2 || S.space || S.panTool) {
      S.drag = { mode: "pan", start: [px, py], view: Object.assign({}, S.view) };
      return;
    }
    // A drag on the picture always adds a region, even over another one (faces overlap). Moving
    // needs the selected region's centre grip or Shift; resizing its corner and edge handles.
    const h = hit(px, py);
    if (h && (h.handle || ev.shiftKey)) {
      S.sel = h.index;
      S.drag = { mode: h.handle && h.handle !== "move" ? "resize" : "move", handle: h.handle, index: h.index,
        start: [px, py], box: S.regions[h.index].box.slice(), before: snapshot(), moved: false };
    } else {
      S.drag = { mode: "new", start: [px, py], now: [px, py], under: h ? h.index : -1 };
    }
    draw(); updateButtons();
  });
  canvas.addEventListener("pointermove", (ev) => {
    const d = S.drag;
    const [px, py] = local(ev);
    if (!d) {
      const h = S.detail && !S.space && !S.panTool ? hit(px, py) : null;
      canvas.style.cursor = !h ? "" : h.handle === "move" || (ev.shiftKey && !h.handle) ? "move"
        : h.handle ? (/^[ns]$/.test(h.handle) ? "ns-resize" : /^[ew]$/.test(h.handle) ? "ew-resize"
          : /^(nw|se)$/.test(h.handle) ? "nwse-resize" : "nesw-resize") : "";
      return;
    }
    if (d.mode === "pan") {
      S.view.ox = d.view.ox + px - d.start[0];
      S.view.oy = d.view.oy + py - d.start[1];
    } else if (d.mode === "new") {
      d.now = [px, py];
    } else {
      const dx = (px - d.start[0]) / S.view.scale, dy = (py - d.start[1]) / S.view.scale;
      if (Math.abs(dx) + Math.abs(dy) > 0) d.moved = true;
      let [x1, y1, x2, y2] = d.box;
      const W = S.detail.width, H = S.detail.height;
      if (d.mode === "move") {
        const mx = Math.max(-x1, Math.min(W - x2, dx)), my = Math.max(-y1, Math.min(H - y2, dy));
        x1 += mx; x2 += mx; y1 += my; y2 += my;
      } else {
        if (d.handle.includes("w")) x1 = Math.min(x1 + dx, x2 - 2);
        if (d.handle.includes("e")) x2 = Math.max(x2 + dx, x1 + 2);
        if (d.handle.includes("n")) y1 = Math.min(y1 + dy, y2 - 2);
        if (d.handle.includes("s")) y2 = Math.max(y2 + dy, y1 + 2);
      }
      S.regions[d.index] = Object.assign({}, S.regions[d.index], { box: clampBox([x1, y1, x2, y2]) });
    }
    draw();
  });
  function finishDrag(ev) {
    const d = S.drag;
    S.drag = null;
    if (!d) return;
    if (d.mode === "new") {
      const [a, b] = d.start, [e, f] = d.now;
      if (Math.abs(e - a) >= MIN_NEW && Math.abs(f - b) >= MIN_NEW) {
        const p = toImage(Math.min(a, e), Math.min(b, f)), q = toImage(Math.max(a, e), Math.max(b, f));
        const box = clampBox([p[0], p[1], q[0], q[1]]);
        if (box[2] - box[0] >= 1 && box[3] - box[1] >= 1) {
          const r = { box, shape: "rounded", detector: "manual" };
          if (S.detail.kind === "video") r.frame = S.frame;
          change(() => { S.regions.push(r); S.sel = S.regions.length - 1; });
          say("region added");
        }
      } else {
        S.sel = d.under; // a click: select the region under the pointer (or none)
        updateButtons();
      }
    } else if ((d.mode === "move" || d.mode === "resize") && d.moved) {
      const r = S.regions[d.index];
      S.undo.push(d.before); S.redo = [];
      S.lastEdit = r.track !== undefined && r.track !== null ? { track: r.track, frame: r.frame, before: d.box, after: r.box.slice() } : null;
      save(); updateButtons();
    }
    draw(); drawTimeline();
    if (ev && canvas.hasPointerCapture(ev.pointerId)) canvas.releasePointerCapture(ev.pointerId);
  }
  canvas.addEventListener("pointerup", finishDrag);
  canvas.addEventListener("pointercancel", finishDrag);
  canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const [px, py] = local(ev);
    zoom(Math.exp(-ev.deltaY * 0.0015), px, py);
  }, { passive: false });

  function clampBox([x1, y1, x2, y2]) {
    const W = S.detail.width, H = S.detail.height;
    const c = (v, m) => Math.max(0, Math.min(m, v));
    return [c(Math.min(x1, x2), W), c(Math.min(y1, y2), H), c(Math.max(x1, x2), W), c(Math.max(y1, y2), H)];
  }

  // ---------- actions ----------
  function deleteSelected(wholeTrack) {
    if (S.sel < 0) return;
    const r = S.regions[S.sel];
    change(() => {
      if (wholeTrack && r.track !== undefined && r.track !== null) S.regions = S.regions.filter((x) => x.track !== r.track);
      else S.regions.splice(S.sel, 1);
      S.sel = -1;
    });
    say(wholeTrack ? "track deleted" : "region deleted");
  }
  function nudge(dx, dy) {
    if (S.sel < 0) return;
    change(() => {
      const r = S.regions[S.sel];
      const [x1, y1, x2, y2] = r.box;
      const mx = Math.max(-x1, Math.min(S.detail.width - x2, dx)), my = Math.max(-y1, Math.min(S.detail.height - y2, dy));
      S.regions[S.sel] = Object.assign({}, r, { box: [x1 + mx, y1 + my, x2 + mx, y2 + my] });
    });
  }
  // The painted outline of a region (unseen/obscure/masks.py): |dx|^n + |dy|^n <= 1 in its box.
  const EXPONENT = { ellipse: 2, rounded: 3 };
  function outline(c, shape, a, b, e, f) {
    if (shape === "box") { c.rect(a, b, e - a, f - b); return; }
    const n = EXPONENT[shape] || 2, cx = (a + e) / 2, cy = (b + f) / 2, rx = Math.abs(e - a) / 2, ry = Math.abs(f - b) / 2;
    for (let k = 0; k <= 64; k++) {
      const t = (k / 64) * Math.PI * 2, co = Math.cos(t), si = Math.sin(t);
      const x = cx + rx * Math.sign(co) * Math.abs(co) ** (2 / n), y = cy + ry * Math.sign(si) * Math.abs(si) ** (2 / n);
      if (k === 0) c.moveTo(x, y); else c.lineTo(x, y);
    }
    c.closePath();
  }
  const SHAPES = ["rounded", "ellipse", "box"];
  function toggleShape() {
    if (S.sel < 0) return;
    change(() => {
      const r = S.regions[S.sel];
      S.regions[S.sel] = Object.assign({}, r, { shape: SHAPES[(SHAPES.indexOf(r.shape) + 1) % SHAPES.length] });
    });
  }
  function withOff(r, off) {
    const o = Object.assign({}, r);
    if (off) o.off = true; else delete o.off;
    return o;
  }
  function toggleText() {
    const r = S.sel >= 0 ? S.regions[S.sel] : null;
    if (!r || r.kind !== "text") { say("select a text region (outlined in the text colour) first"); return; }
    change(() => { S.regions[S.sel] = withOff(r, !r.off); });
    say(r.off ? "text region switched on: it will be painted" : "text region switched off: it will not be painted");
  }
  function setFileText(on) {
    change(() => { S.regions = S.regions.map((r) => (r.kind === "text" ? withOff(r, !on) : r)); });
    say(on ? "text in this file will be painted" : "no text in this file will be painted");
  }
  function renderTextBar() {
    const text = S.detail ? S.regions.filter((r) => r.kind === "text") : [];
    const off = text.filter((r) => r.off).length;
    if ($("textbar").hidden !== !text.length) {
      $("textbar").hidden = !text.length;
      if (S.original) { layout(); draw(); } // the picture's area changed height
    }
    $("file-text").checked = off === 0;
    $("file-text").indeterminate = off > 0 && off < text.length;
    $("text-count").textContent = text.length
      ? `${text.length} text region${text.length === 1 ? "" : "s"}${off ? `, ${off} switched off` : ""}` : "";
  }
  function setPublished(on) {
    S.published = on;
    $("view-original").classList.toggle("on", !on);
    $("view-published").classList.toggle("on", on);
    document.body.dataset.view = on ? "published" : "original";
    if (on) loadPreview(); else draw();
  }
  function markReviewed() {
    if (!S.detail) return;
    const on = S.files[S.index].status === "not reviewed";
    save({ reviewed: on }).then(() => say(on ? "marked reviewed" : "marked not reviewed"));
  }
  function selectNext() {
    const vis = visible();
    if (!vis.length) return;
    const k = vis.indexOf(S.sel);
    S.sel = vis[(k + 1) % vis.length];
    draw(); updateButtons();
  }
  function updateButtons() {
    $("undo").disabled = !S.undo.length;
    $("redo").disabled = !S.redo.length;
    $("delete").disabled = S.sel < 0;
    $("shape").disabled = S.sel < 0;
    const sel = S.sel >= 0 ? S.regions[S.sel] : null;
    $("text-toggle").disabled = !sel || sel.kind !== "text";
    $("text-toggle").textContent = sel && sel.kind === "text" && sel.off ? "Text on" : "Text off";
    renderTextBar();
    const video = S.detail && S.detail.kind === "video";
    if (video) {
      const r = S.sel >= 0 ? S.regions[S.sel] : null;
      $("apply-track").disabled = !S.lastEdit;
      $("follow-track").disabled = !r;
      $("apply-range").disabled = !r;
    }
    const f = S.files[S.index];
    $("reviewed").textContent = f && f.status !== "not reviewed" ? "Reviewed ✓" : "Mark reviewed";
  }

  // ---------- video ----------
  function setFrame(n) {
    if (!S.detail || S.detail.kind !== "video") return;
    n = Math.max(0, Math.min(S.detail.frames - 1, n | 0));
    if (n === S.frame && S.original) return;
    S.frame = n; $("frame").value = n;
    if (S.sel >= 0 && S.regions[S.sel] && S.regions[S.sel].frame !== n) {
      const t = S.regions[S.sel].track;
      S.sel = t === undefined || t === null ? -1 : S.regions.findIndex((r) => r.track === t && r.frame === n);
    }
    updateButtons();
    return loadPicture(false);
  }
  function nextTrackId() {
    let m = -1;
    for (const r of S.regions) if (r.track !== undefined && r.track !== null) m = Math.max(m, r.track);
    return m + 1;
  }
  function relBox(box, from, to) {
    // Carry a change made on one frame (from -> to) to another frame's box, relative to its size.
    const w = from[2] - from[0], h = from[3] - from[1];
    const bw = box[2] - box[0], bh = box[3] - box[1];
    const cx = (box[0] + box[2]) / 2 + (((to[0] + to[2]) - (from[0] + from[2])) / 2) * (bw / w);
    const cy = (box[1] + box[3]) / 2 + (((to[1] + to[3]) - (from[1] + from[3])) / 2) * (bh / h);
    const nw = (bw * (to[2] - to[0])) / w, nh = (bh * (to[3] - to[1])) / h;
    return clampBox([cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2]);
  }
  function applyToTrack() {
    const e = S.lastEdit;
    if (!e) { say("move or resize a tracked region first"); return; }
    const shape = S.sel >= 0 ? S.regions[S.sel].shape : undefined;
    change(() => {
      S.regions = S.regions.map((r) => (r.track === e.track && r.frame !== e.frame
        ? Object.assign({}, r, { box: relBox(r.box, e.before, e.after), shape: shape || r.shape }) : r));
    });
    S.lastEdit = null; updateButtons();
    say(`applied to every frame of track ${e.track}`);
  }
  function followTrack() {
    if (S.sel < 0) return;
    const me = S.regions[S.sel];
    // The tracked region on this frame that overlaps the selected one most (or is nearest).
    let best = null, bestScore = -Infinity;
    for (const r of S.regions) {
      if (r === me || r.frame !== S.frame || r.track === undefined || r.track === null || r.track === me.track) continue;
      const ix = Math.max(0, Math.min(r.box[2], me.box[2]) - Math.max(r.box[0], me.box[0]));
      const iy = Math.max(0, Math.min(r.box[3], me.box[3]) - Math.max(r.box[1], me.box[1]));
      const dist = Math.hypot((r.box[0] + r.box[2] - me.box[0] - me.box[2]) / 2, (r.box[1] + r.box[3] - me.box[1] - me.box[3]) / 2);
      const score = ix * iy - dist;
      if (score > bestScore) { bestScore = score; best = r; }
    }
    if (!best) { say("no tracked region on this frame to follow", true); return; }
    const id = nextTrackId();
    change(() => {
      const copies = [];
      for (const r of S.regions) {
        if (r.track !== best.track || r.frame === S.frame) continue;
        copies.push({ box: relBox(r.box, best.box, me.box), shape: me.shape, detector: "manual", frame: r.frame, track: id });
      }
      S.regions[S.sel] = Object.assign({}, me, { track: id });
      S.regions.push(...copies);
    });
    say(`region follows track ${best.track} (${S.regions.filter((r) => r.track === id).length} frames)`);
  }
  function readRange() {
    const last = S.detail.frames - 1;
    let a = Math.max(0, Math.min(last, parseInt($("range-from").value, 10) || 0));
    let b = Math.max(0, Math.min(last, parseInt($("range-to").value, 10) || 0));
    if (b < a) [a, b] = [b, a];
    return [a, b];
  }
  function applyToRange() {
    if (S.sel < 0) return;
    const [a, b] = readRange();
    const me = S.regions[S.sel];
    const id = me.track !== undefined && me.track !== null ? me.track : nextTrackId();
    change(() => {
      S.regions[S.sel] = Object.assign({}, me, { track: id });
      const rest = S.regions.filter((r) => !(r.track === id && r.frame >= a && r.frame <= b && r.frame !== me.frame));
      for (let f = a; f <= b; f++) {
        if (f === me.frame) continue;
        rest.push({ box: me.box.slice(), shape: me.shape, detector: "manual", frame: f, track: id });
      }
      S.regions = rest;
      S.sel = S.regions.findIndex((r) => r.track === id && r.frame === S.frame);
    });
    say(`region copied to frames ${a}–${b}`);
  }
  function addWhole() {
    const [a, b] = readRange();
    change(() => {
      const spans = S.whole.concat([[a, b]]).sort((x, y) => x[0] - y[0]);
      const merged = [];
      for (const s of spans) {
        const m = merged[merged.length - 1];
        if (m && s[0] <= m[1] + 1) m[1] = Math.max(m[1], s[1]); else merged.push(s.slice());
      }
      S.whole = merged;
    });
    renderSpans();
    say(`frames ${a}–${b} will be obscured entirely`);
  }
  function renderSpans() {
    const ul = $("spans");
    ul.textContent = "";
    S.whole.forEach(([a, b], k) => {
      const li = document.createElement("li");
      li.textContent = `frames ${a}–${b} obscured entirely`;
      const x = document.createElement("button");
      x.textContent = "×"; x.title = "remove";
      x.addEventListener("click", () => { change(() => S.whole.splice(k, 1)); renderSpans(); });
      li.append(x);
      ul.append(li);
    });
  }
  function drawTimeline() {
    if (!S.detail || S.detail.kind !== "video") return;
    const c = timeline.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const w = timeline.width / dpr, h = timeline.height / dpr;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, w, h);
    const n = S.detail.frames;
    const x = (f) => (f / Math.max(1, n - 1)) * (w - 2) + 1;
    const has = new Map();
    for (const r of S.regions) has.set(r.frame, (has.get(r.frame) || 0) + 1);
    c.fillStyle = "#3d8bfd";
    for (const [f] of has) c.fillRect(x(f) - 0.5, 4, Math.max(1, (w / n) * 0.9), h * 0.45);
    c.fillStyle = "rgba(248,81,73,.8)";
    for (const [a, b] of S.whole) c.fillRect(x(a), h * 0.6, Math.max(2, x(b) - x(a)), h * 0.3);
    c.fillStyle = "#ffd33d";
    c.fillRect(x(S.frame) - 1, 0, 2, h);
  }
  function seekTimeline(ev) {
    const r = timeline.getBoundingClientRect();
    setFrame(Math.round(((ev.clientX - r.left) / r.width) * (S.detail.frames - 1)));
  }
  timeline.addEventListener("pointerdown", (ev) => { timeline.setPointerCapture(ev.pointerId); seekTimeline(ev); });
  timeline.addEventListener("pointermove", (ev) => { if (ev.buttons) seekTimeline(ev); });
  async function play() {
    S.playing = !S.playing;
    $("play").textContent = S.playing ? "Pause" : "Play";
    const dt = 1000 / ((S.detail && S.detail.fps) || 25);
    while (S.playing && S.detail && S.frame < S.detail.frames - 1) {
      const t = performance.now();
      await setFrame(S.frame + 1);
      await new Promise((ok) => setTimeout(ok, Math.max(0, dt - (performance.now() - t))));
    }
    S.playing = false; $("play").textContent = "Play";
  }

  // ---------- export ----------
  async function startExport() {
    await S.saveChain;
    try {
      const r = await post("export");
      if (!r.started) say("an export (or the scan) is still running");
      showExport(r.export);
      pollExport();
    } catch (e) { say("export failed: " + e.message, true); }
  }
  async function pollExport() {
    for (;;) {
      const st = await api("state").catch(() => null);
      if (!st) return;
      S.files = st.files; renderFiles(); showExport(st.export);
      if (st.export.state !== "running") return;
      await new Promise((ok) => setTimeout(ok, 400));
    }
  }
  function showExport(job) {
    const bar = $("progress");
    document.body.dataset.export = job.state;
    if (job.state === "running") {
      bar.hidden = false;
      bar.value = job.total ? (job.done + Math.min(1, job.fraction)) / job.total : 0;
      say(`exporting ${job.done + 1}/${job.total}: ${job.current}`);
    } else if (job.state === "done" || job.state === "failed") {
      bar.hidden = true;
      if (S.exportState !== job.state) {
        const fails = job.failed.map((f) => f.path + ": " + f.error).join("; ");
        const bad = job.state === "failed" || (job.changed || []).length > 0;
        say(`${job.message}. Audit: ${job.audit || "not run"}${fails ? ". Failed: " + fails : ""}`, bad);
        document.body.dataset.audit = job.audit || "";
      }
    }
    S.exportState = job.state;
  }

  // ---------- wiring ----------
  $("view-original").addEventListener("click", () => setPublished(false));
  $("view-published").addEventListener("click", () => setPublished(true));
  $("zoom-in").addEventListener("click", () => zoom(1.25));
  $("zoom-out").addEventListener("click", () => zoom(0.8));
  $("zoom-fit").addEventListener("click", fitView);
  $("pan").addEventListener("click", () => {
    S.panTool = !S.panTool;
    $("pan").classList.toggle("on", S.panTool);
    canvas.classList.toggle("panning", S.panTool);
  });
  $("undo").addEventListener("click", () => restore(S.undo, S.redo));
  $("redo").addEventListener("click", () => restore(S.redo, S.undo));
  $("delete").addEventListener("click", () => deleteSelected(false));
  $("shape").addEventListener("click", toggleShape);
  $("text-toggle").addEventListener("click", toggleText);
  $("file-text").addEventListener("change", () => { setFileText($("file-text").checked); canvas.focus(); });
  $("reviewed").addEventListener("click", markReviewed);
  $("export").addEventListener("click", startExport);
  $("help").addEventListener("click", () => $("keys").showModal());
  $("keys-ok").addEventListener("click", () => $("keys").close());
  $("close").addEventListener("click", async () => {
    await S.saveChain;
    await post("quit").catch(() => null);
    document.body.textContent = "Review closed. The plan is saved; run `unseen review` again to continue.";
  });
  $("play").addEventListener("click", play);
  $("prev-frame").addEventListener("click", () => setFrame(S.frame - 1));
  $("next-frame").addEventListener("click", () => setFrame(S.frame + 1));
  $("frame").addEventListener("change", () => setFrame(parseInt($("frame").value, 10) || 0));
  $("apply-track").addEventListener("click", applyToTrack);
  $("follow-track").addEventListener("click", followTrack);
  $("apply-range").addEventListener("click", applyToRange);
  $("whole").addEventListener("click", addWhole);

  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement || $("keys").open) return;
    const k = ev.key, mod = ev.ctrlKey || ev.metaKey;
    const video = S.detail && S.detail.kind === "video";
    let done = true;
    if (mod && (k === "z" || k === "Z")) ev.shiftKey ? restore(S.redo, S.undo) : restore(S.undo, S.redo);
    else if (mod && (k === "y" || k === "Y")) restore(S.redo, S.undo);
    else if (mod) done = false;
    else if (k === "Delete" || k === "Backspace") deleteSelected(ev.shiftKey);
    else if (k === "p" || k === "P") setPublished(!S.published);
    else if (k === "+" || k === "=") zoom(1.25);
    else if (k === "-" || k === "_") zoom(0.8);
    else if (k === "0") fitView();
    else if (k === "h" || k === "H") $("pan").click();
    else if (k === "n" || k === "N") openFile(S.index + 1);
    else if (k === "b" || k === "B") openFile(S.index - 1);
    else if (k === "r" || k === "R") markReviewed();
    else if (k === "s" || k === "S") toggleShape();
    else if (k === "x" || k === "X") toggleText();
    else if (k === "Tab") selectNext();
    else if (k === "Escape") { S.sel = -1; draw(); updateButtons(); }
    else if (k === "?") $("keys").showModal();
    else if (video && (k === "t" || k === "T")) applyToTrack();
    else if (video && (k === "f" || k === "F")) followTrack();
    else if (k === "ArrowLeft" || k === "ArrowRight") {
      const step = (k === "ArrowLeft" ? -1 : 1) * (ev.shiftKey ? 10 : 1);
      video ? setFrame(S.frame + step) : nudge(step, 0);
    } else if (k === "ArrowUp" || k === "ArrowDown") {
      if (!video) nudge(0, (k === "ArrowUp" ? -1 : 1) * (ev.shiftKey ? 10 : 1)); else done = false;
    } else if (k === " ") {
      if (video && !S.space && ev.target !== canvas) play(); else S.space = true;
      canvas.classList.add("panning");
    } else done = false;
    if (done) ev.preventDefault();
  });
  document.addEventListener("keyup", (ev) => {
    if (ev.key === " ") { S.space = false; canvas.classList.toggle("panning", S.panTool); }
  });
  window.addEventListener("resize", () => { layout(); fitView(); drawTimeline(); });
  window.addEventListener("pagehide", () => { fetch("api/bye", { method: "POST", keepalive: true }).catch(() => null); });

  // For tests and scripts: map picture pixels to page coordinates.
  window.unseenReview = {
    toClient(x, y) {
      const r = canvas.getBoundingClientRect();
      const [vx, vy] = toView(x, y);
      return [r.left + vx, r.top + vy];
    },
    state: S,
  };

  layout();
  setPending(0);
  setPublished(false);
  refresh();
  setInterval(() => { if (S.exportState !== "running") refresh(); }, 2000);
})();
