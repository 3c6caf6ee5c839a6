/*
 * Presence capture SDK. Include it from your Presence server:
 *
 *   <script src="https://presence.example.com/sdk/presence.js"></script>
 *   <div id="face-check"></div>
 *   <script>
 *     Presence.start({
 *       container: document.getElementById('face-check'),
 *       sessionId: 'ses_...',      // from your backend (POST /v1/sessions)
 *       clientToken: 'pct_...',    // from your backend, single use
 *       onDone: function (r) { ... }, // {status, guidance}: ask your backend for the verdict
 *       onState: function (s) { ... } // optional: every state change
 *       // record: true, onRecording: function (blob) { ... }
 *       //   optional, only with the person's consent: the frames sent, their
 *       //   times and the light challenge, as a presence-recording/1 JSON
 *       //   file for `presence eval clips` (docs/active.md)
 *     });
 *   </script>
 *
 * It opens the camera, shows a face guide and the server's guidance, sends
 * frames over a WebSocket, and reports the end. It never sees a score or a
 * threshold: the verdict is only available to your backend.
 */
(function (global) {
  'use strict';

  var TEXT = {
    starting: 'Starting the camera\u2026',
    connecting: 'Connecting\u2026',
    capturing: 'Look at the camera',
    light: 'Keep looking at the screen',
    notice: 'Before the camera opens',
    agree: 'I agree, open the camera',
    decline: 'No, thanks',
    declined: 'You declined. The camera was not opened and nothing was recorded.',
    policy: 'Privacy policy',
    who: 'Who is asking',
    what: 'What is checked',
    kept: 'What is kept',
    // Neutral on purpose: the device never learns the verdict, so the end
    // of the capture must not read as a pass (the relying party shows the
    // outcome).
    done: 'Thank you. Your check is finished.',
    permission_denied: 'Camera access was denied. Allow the camera for this site in your browser settings, then try again.',
    no_camera: 'No camera was found on this device.',
    camera_in_use: 'The camera is in use by another application. Close it, then try again.',
    unsupported: 'This browser cannot use the camera. Try a recent Chrome, Firefox or Safari.',
    network_lost: 'The connection was lost. Please try again.',
    session_expired: 'This check has expired. Please start again.',
    session_used: 'This check was already used. Please start again.',
    error: 'Something went wrong. Please try again.'
  };
  // States that end the check without a verdict for the person to wait on.
  var FAILURES = ['declined', 'permission_denied', 'no_camera', 'camera_in_use', 'unsupported', 'network_lost', 'session_expired', 'session_used', 'error'];

  var STYLE = '' +
    '.presence-capture{font:16px/1.4 system-ui,sans-serif;max-width:480px;margin:0 auto;text-align:center;color:#1b1b1b}' +
    '.presence-capture .pc-stage{position:relative;width:100%;aspect-ratio:4/3;background:#111;border-radius:12px;overflow:hidden}' +
    '.presence-capture video{width:100%;height:100%;object-fit:cover;transform:scaleX(-1)}' +
    '.presence-capture svg{position:absolute;inset:0;width:100%;height:100%;pointer-events:none}' +
    '.presence-capture .pc-step{font-size:1.35em;font-weight:600;min-height:1.5em;margin:.6em 0 .2em}' +
    '.presence-capture .pc-guidance{min-height:1.4em;margin:.2em 0}' +
    '.presence-capture .pc-progress{color:#555;font-size:.9em;min-height:1.2em}' +
    '.presence-capture .pc-badge{position:absolute;inset:0;display:none;align-items:center;justify-content:center;flex-direction:column;background:#f4f4f4;color:#1b1b1b;font-size:1.2em}' +
    '.presence-capture .pc-badge b{font-size:2.6em;line-height:1.1}' +
    '.presence-capture.pc-ended .pc-badge{display:flex}' +
    '.presence-capture.pc-failed .pc-step{color:#9b1c1c}';

  function el(tag, cls, parent) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }

  function scriptOrigin() {
    var s = document.currentScript;
    if (s && s.src) return new URL(s.src).origin;
    return global.location.origin;
  }
  var defaultServer = scriptOrigin();

  function cameraState(err) {
    switch (err && err.name) {
      case 'NotAllowedError': case 'SecurityError': return 'permission_denied';
      case 'NotFoundError': case 'OverconstrainedError': case 'DevicesNotFoundError': return 'no_camera';
      case 'NotReadableError': case 'TrackStartError': case 'AbortError': return 'camera_in_use';
    }
    return 'error';
  }

  function serverErrorState(code) {
    switch (code) {
      case 'session_expired': return 'session_expired';
      case 'token_used': case 'session_finished': return 'session_used';
    }
    return 'error';
  }

  function start(opts) {
    if (!opts || !opts.container || !opts.sessionId || !opts.clientToken) {
      throw new Error('Presence.start needs container, sessionId and clientToken');
    }
    var server = (opts.server || defaultServer).replace(/\/$/, '');
    if (!document.getElementById('presence-capture-style')) {
      var st = el('style');
      st.id = 'presence-capture-style';
      st.textContent = STYLE;
      document.head.appendChild(st);
    }
    var root = el('div', 'presence-capture', null);
    root.setAttribute('role', 'region');
    root.setAttribute('aria-label', 'Face check');
    var stage = el('div', 'pc-stage', root);
    var video = el('video', null, stage);
    video.setAttribute('playsinline', '');
    video.muted = true;
    video.autoplay = true;
    stage.insertAdjacentHTML('beforeend',
      '<svg viewBox="0 0 100 75" aria-hidden="true"><defs><mask id="pc-hole"><rect width="100" height="75" fill="white"/>' +
      '<ellipse cx="50" cy="37" rx="19" ry="26" fill="black"/></mask></defs>' +
      '<rect width="100" height="75" fill="rgba(0,0,0,.45)" mask="url(#pc-hole)"/>' +
      '<ellipse class="pc-oval" cx="50" cy="37" rx="19" ry="26" fill="none" stroke="white" stroke-width=".8"/></svg>');
    var badge = el('div', 'pc-badge', stage);
    var stepText = el('p', 'pc-step', root);
    stepText.setAttribute('aria-live', 'assertive');
    var guidance = el('p', 'pc-guidance', root);
    guidance.setAttribute('aria-live', 'polite');
    var progress = el('p', 'pc-progress', root);
    opts.container.innerHTML = '';
    opts.container.appendChild(root);

    var stream = null, ws = null, timer = null, finished = false, seq = 0, busy = false, maxFPS = 10, nonce = '';
    // What a recording keeps, when the page asked for one.
    var recording = opts.record ? { format: 'presence-recording/1', frames: [] } : null;
    // consent is the person's answer to the relying party's notice, if any.
    var consent = null;
    var canvas = document.createElement('canvas');

    function setState(state, detail) {
      root.setAttribute('data-state', state);
      if (FAILURES.indexOf(state) >= 0) root.classList.add('pc-failed');
      if (TEXT[state]) stepText.textContent = TEXT[state];
      if (opts.onState) { try { opts.onState(state, detail); } catch (e) { /* the page's problem */ } }
    }

    function stop() {
      if (timer) { clearInterval(timer); timer = null; }
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      if (ws && ws.readyState <= 1) ws.close(1000, 'done');
    }

    // showEnd replaces the stopped camera with a badge whose words, not
    // only its colour, say how the check ended.
    function showEnd(ok, label) {
      badge.innerHTML = '';
      var mark = el('b', null, badge);
      mark.textContent = ok ? '\u2022' : '!';
      mark.setAttribute('aria-hidden', 'true');
      el('span', null, badge).textContent = label;
      root.classList.add('pc-ended');
    }

    function fail(state, detail) {
      if (finished) return;
      finished = true;
      stop();
      guidance.textContent = '';
      progress.textContent = '';
      setState(state, detail);
      showEnd(false, 'Not completed');
      if (opts.onDone) opts.onDone({ status: 'failed', state: state, guidance: [] });
    }

    // showLight fills the screen with the server's colours, one after the
    // other, while frames stream: the light they throw on the face is what
    // the server checks. Colours last at least 350 ms: under
    // the three flashes a second that risk photosensitive seizures.
    function showLight(plan) {
      var overlay = el('div', 'pc-light', document.body);
      overlay.setAttribute('role', 'status');
      overlay.setAttribute('aria-live', 'polite');
      overlay.textContent = TEXT.light;
      overlay.style.cssText = 'position:fixed;inset:0;z-index:2147483647;display:flex;align-items:center;justify-content:center;' +
        'font:600 1.4em system-ui,sans-serif;color:#fff;text-shadow:0 0 6px #000;transition:none';
      root.setAttribute('data-light', 'on');
      var i = 0;
      function next() {
        if (finished || i >= plan.colors.length) {
          overlay.remove();
          root.setAttribute('data-light', 'done');
          return;
        }
        overlay.style.background = plan.colors[i];
        if (i === 0) {
          // Stamped when the first colour is on the screen, on the clock
          // the frames are stamped with.
          requestAnimationFrame(function () {
            var started = performance.now();
            if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'light_start', ts: started }));
            if (recording) recording.light_start_ms = started;
          });
        }
        setTimeout(next, plan.durations_ms[i]);
        i += 1;
      }
      next();
    }

    function sendFrame() {
      if (busy || !ws || ws.readyState !== 1 || video.readyState < 2 || ws.bufferedAmount > 512 * 1024) return;
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) return;
      var scale = Math.min(1, 640 / w);
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      // Drawn unmirrored: the server judges the true camera view.
      canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
      var ts = performance.now();
      busy = true;
      canvas.toBlob(function (blob) {
        if (!blob || !ws || ws.readyState !== 1) { busy = false; return; }
        blob.arrayBuffer().then(function (buf) {
          seq += 1;
          var header = new TextEncoder().encode(JSON.stringify({ seq: seq, ts: ts, nonce: nonce }));
          var msg = new Uint8Array(2 + header.length + buf.byteLength);
          msg[0] = header.length >> 8;
          msg[1] = header.length & 255;
          msg.set(header, 2);
          msg.set(new Uint8Array(buf), 2 + header.length);
          if (ws.readyState === 1) {
            ws.send(msg);
            if (recording) recording.frames.push({ ts: ts, bytes: new Uint8Array(buf) });
          }
          busy = false;
        }, function () { busy = false; });
      }, 'image/jpeg', 0.85);
    }

    function onMessage(ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      switch (m.type) {
        case 'notice':
          // Answered before the camera opened (see begin).
          if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'consent', agree: !!(consent && consent.agree), language: consent ? consent.language : '' }));
          break;
        case 'ready':
          nonce = m.nonce;
          maxFPS = Math.max(1, Math.min(m.max_fps || 10, 15));
          progress.textContent = m.steps ? 'Steps: ' + m.steps : '';
          if (recording && m.light) recording.light = m.light;
          setState('capturing');
          timer = setInterval(sendFrame, 1000 / maxFPS);
          if (m.light) showLight(m.light);
          break;
        case 'guidance':
          guidance.textContent = m.code === 'ok' ? '' : m.message;
          root.setAttribute('data-guidance', m.code);
          break;
        case 'step':
          stepText.textContent = m.message;
          progress.textContent = 'Step ' + (m.index + 1) + ' of ' + m.total;
          root.setAttribute('data-step', m.step);
          setState('step', m);
          stepText.textContent = m.message;
          break;
        case 'step_done':
          progress.textContent = 'Step ' + (m.index + 1) + ' of ' + m.total + ' done';
          break;
        case 'done':
          finished = true;
          stop();
          progress.textContent = ''; // a step counter must not outlive the check
          root.removeAttribute('data-step');
          var tips = (m.guidance || []).map(function (r) { return r.message; });
          guidance.textContent = tips.join('. ');
          if (m.status === 'declined') {
            setState('declined', m);
            guidance.textContent = '';
            showEnd(false, 'Declined');
            if (opts.onDone) opts.onDone({ status: 'declined', guidance: [] });
            break;
          }
          if (m.status === 'succeeded') {
            setState('done', m);
            showEnd(!tips.length, tips.length ? 'Please try again' : 'Check finished');
            if (tips.length) {
              stepText.textContent = 'Please try again';
              root.classList.add('pc-failed');
            }
          } else {
            setState('network_lost', m);
            showEnd(false, 'Not completed');
          }
          if (opts.onDone) opts.onDone({ status: m.status, guidance: m.guidance || [] });
          deliverRecording();
          break;
        case 'error':
          fail(serverErrorState(m.code), m);
          break;
      }
    }

    // cameraReport tells the server what the browser knows of the camera:
    // its label and settings. The server records it with the verdict and
    // may refuse known virtual cameras; it proves nothing on its own.
    // deliverRecording hands the page the recording as a JSON file.
    function deliverRecording() {
      if (!recording || !opts.onRecording) return;
      recording.camera = cameraReport() || recording.camera;
      var frames = recording.frames.map(function (f) {
        var bin = '';
        for (var i = 0; i < f.bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, f.bytes.subarray(i, i + 0x8000));
        return { ts: f.ts, jpeg: btoa(bin) };
      });
      var out = { format: recording.format, light: recording.light, light_start_ms: recording.light_start_ms, camera: recording.camera, frames: frames };
      recording = null;
      try { opts.onRecording(new Blob([JSON.stringify(out)], { type: 'application/json' })); } catch (e) { /* the page's problem */ }
    }

    function cameraReport() {
      var track = stream && stream.getVideoTracks()[0];
      if (!track) return null;
      var s = track.getSettings ? track.getSettings() : {};
      return { label: track.label || '', width: s.width || 0, height: s.height || 0, frame_rate: s.frameRate || 0, facing_mode: s.facingMode || '' };
    }

    function connect() {
      setState('connecting');
      var url = server.replace(/^http/, 'ws') + '/v1/sessions/' + encodeURIComponent(opts.sessionId) + '/stream';
      try { ws = new WebSocket(url); } catch (e) { fail('error', e); return; }
      ws.binaryType = 'arraybuffer';
      ws.onopen = function () {
        var cam = cameraReport();
        if (recording) recording.camera = cam;
        ws.send(JSON.stringify({ type: 'hello', token: opts.clientToken, camera: cam }));
      };
      ws.onmessage = onMessage;
      // The token is spent once sent: a dropped connection cannot resume,
      // so the check ends cleanly and the page starts a new one.
      ws.onclose = function () { if (!finished) fail('network_lost'); };
      ws.onerror = function () { /* onclose follows */ };
    }

    // openCamera opens the camera, then connects: a camera that fails
    // leaves the client token unspent, so the page can try again.
    function openCamera() {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user', width: { ideal: 640 }, height: { ideal: 480 } }, audio: false })
        .then(function (s) {
          if (finished) { s.getTracks().forEach(function (t) { t.stop(); }); return; }
          stream = s;
          video.srcObject = s;
          var p = video.play();
          if (p && p.catch) p.catch(function () { /* autoplay of a muted video is allowed */ });
          connect();
        }, function (err) { fail(cameraState(err), err); });
    }

    // begin asks the server, without spending the token, whether the
    // relying party set a notice; if so the person answers it before the
    // camera is asked for. A decline connects without a camera, only to
    // say so.
    function begin() {
      var peek;
      try {
        peek = new WebSocket(server.replace(/^http/, 'ws') + '/v1/sessions/' + encodeURIComponent(opts.sessionId) + '/stream');
      } catch (e) { openCamera(); return; }
      var answered = false;
      peek.onopen = function () { peek.send(JSON.stringify({ type: 'hello', token: opts.clientToken, peek: true })); };
      peek.onmessage = function (ev) {
        var m;
        try { m = JSON.parse(ev.data); } catch (e) { return; }
        answered = true;
        peek.close(1000, 'peeked');
        if (m.type === 'notice' && m.notice) {
          showNotice(m.notice);
        } else if (m.type === 'error') {
          fail(serverErrorState(m.code), m);
        } else {
          openCamera();
        }
      };
      peek.onclose = function () { if (!answered && !finished) openCamera(); };
    }

    // showNotice shows the relying party's notice, in the browser's
    // language when it gave one, and sends the person's answer. Nothing
    // is captured before it.
    function showNotice(notice) {
      var langs = Object.keys(notice.texts || {});
      var want = (navigator.language || 'en').toLowerCase();
      var lang = langs.filter(function (l) { return l.toLowerCase() === want; })[0] ||
        langs.filter(function (l) { return want.indexOf(l.toLowerCase().split('-')[0]) === 0; })[0] || langs[0];
      var t = notice.texts[lang] || {};
      var panel = el('section', 'pc-notice', root);
      panel.setAttribute('aria-labelledby', 'pc-notice-title');
      var h = el('h2', null, panel);
      h.id = 'pc-notice-title';
      h.textContent = TEXT.notice;
      [[TEXT.who, t.controller], [TEXT.what, t.purpose], [TEXT.kept, t.kept]].forEach(function (row) {
        var p = el('p', null, panel);
        el('strong', null, p).textContent = row[0] + ': ';
        p.appendChild(document.createTextNode(row[1] || ''));
      });
      if (notice.policy_url) {
        var a = el('a', null, el('p', null, panel));
        a.href = notice.policy_url;
        a.target = '_blank';
        a.rel = 'noopener';
        a.textContent = TEXT.policy;
      }
      var buttons = el('p', null, panel);
      var yes = el('button', 'pc-agree', buttons);
      yes.type = 'button';
      yes.textContent = TEXT.agree;
      var no = el('button', 'pc-decline', buttons);
      no.type = 'button';
      no.textContent = TEXT.decline;
      function answer(agree) {
        panel.remove();
        consent = { agree: agree, language: lang };
        if (agree) {
          setState('starting');
          openCamera();
        } else {
          stepText.textContent = TEXT.declined;
          connect(); // only to say so; no camera
        }
      }
      yes.onclick = function () { answer(true); };
      no.onclick = function () { answer(false); };
      setState('notice', notice);
      stepText.textContent = ''; // the notice's own heading says it
      yes.focus();
    }

    setState('starting');
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail('unsupported');
    } else {
      begin();
    }

    return {
      cancel: function () { fail('error'); },
      element: root
    };
  }

  global.Presence = { start: start, version: '1', messages: TEXT };
})(window);
