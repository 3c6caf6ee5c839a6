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
 *       onState: function (s) { ... }, // optional: every state change
 *       lang: 'fr'                  // optional: en or fr (default: the page's, then the browser's)
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

  // Every sentence the SDK shows, per language: its own, the server's
  // guidance by reason code (reason_*) and the active steps (step_*).
  // Whole sentences with named placeholders, never pieces. The page picks
  // the language with the `lang` option (else the page's <html lang>,
  // else the browser's); a language missing here falls back to English,
  // and a code missing from a catalogue to the server's English sentence.
  var CATALOGUES = {
    en: {
      starting: 'Starting the camera\u2026',
      connecting: 'Connecting\u2026',
      capturing: 'Look at the camera',
      light: 'Keep looking at the screen',
      notice: 'Before the camera opens',
      agree: 'I agree, open the camera',
      decline: 'No, thanks',
      declined: 'You declined. The camera was not opened and nothing was recorded.',
      policy: 'Privacy policy',
      who: 'Who is asking: {text}',
      what: 'What is checked: {text}',
      kept: 'What is kept: {text}',
      // Neutral on purpose: the device never learns the verdict, so the
      // end of the capture must not read as a pass (the relying party
      // shows the outcome).
      done: 'Thank you. Your check is finished.',
      permission_denied: 'Camera access was denied. Allow the camera for this site in your browser settings, then try again.',
      no_camera: 'No camera was found on this device.',
      camera_in_use: 'The camera is in use by another application. Close it, then try again.',
      unsupported: 'This browser cannot use the camera. Try a recent Chrome, Firefox or Safari.',
      network_lost: 'The connection was lost. Please try again.',
      session_expired: 'This check has expired. Please start again.',
      session_used: 'This check was already used. Please start again.',
      error: 'Something went wrong. Please try again.',
      region: 'Face check',
      steps_count: 'Steps: {n}',
      step_of: 'Step {n} of {total}',
      step_of_done: 'Step {n} of {total} done',
      end_not_completed: 'Not completed',
      end_declined: 'Declined',
      end_try_again: 'Please try again',
      end_finished: 'Check finished',
      reason_no_face: 'Look at the camera',
      reason_multiple_faces: 'Make sure only you are in view',
      reason_face_too_small: 'Move closer',
      reason_face_cut_off: 'Center your face in the frame',
      reason_face_too_close: 'Move back a little',
      reason_too_dark: 'Find a brighter space',
      reason_too_bright: 'Move out of direct light',
      reason_backlit: 'Face the light; avoid a bright background',
      reason_too_blurry: 'Hold still',
      reason_pose_out_of_range: 'Look at the camera',
      reason_eyes_closed: 'Open your eyes',
      reason_spoof_suspected: 'We could not confirm a live person',
      reason_face_mismatch: 'The face does not match',
      reason_reference_no_face: 'No face found in the reference image',
      reason_face_changed: 'Keep only your own face in view',
      reason_liveness_uncertain: 'Face a light, hold still and try again',
      reason_face_lost: 'Keep your face in view',
      reason_challenge_failed: 'Follow the instructions on the screen',
      reason_too_few_frames: 'Hold still and keep looking at the camera',
      reason_replayed_frame: 'We could not confirm a live person',
      reason_timing_anomaly: 'We could not confirm a live person',
      reason_injection_suspected: 'We could not confirm a live person',
      reason_light_mismatch: 'We could not confirm a live person',
      reason_flat_face: 'We could not confirm a live person',
      reason_light_unmeasurable: 'Turn up your screen brightness and move out of direct sunlight',
      reason_connection_lost: 'The connection was lost; please try again',
      reason_session_timeout: 'Time is up; please try again',
      step_blink: 'Now blink',
      step_turn_left: 'Turn your head left',
      step_turn_right: 'Turn your head right',
      step_look_up: 'Look up',
      step_move_closer: 'Move closer',
      step_open_mouth: 'Open your mouth'
    },
    fr: {
      starting: 'Ouverture de la cam\u00e9ra\u2026',
      connecting: 'Connexion\u2026',
      capturing: 'Regardez la cam\u00e9ra',
      light: 'Continuez \u00e0 regarder l\u2019\u00e9cran',
      notice: 'Avant l\u2019ouverture de la cam\u00e9ra',
      agree: 'J\u2019accepte, ouvrir la cam\u00e9ra',
      decline: 'Non merci',
      declined: 'Vous avez refus\u00e9. La cam\u00e9ra n\u2019a pas \u00e9t\u00e9 ouverte et rien n\u2019a \u00e9t\u00e9 enregistr\u00e9.',
      policy: 'Politique de confidentialit\u00e9',
      who: 'Qui le demande\u00a0: {text}',
      what: 'Ce qui est v\u00e9rifi\u00e9\u00a0: {text}',
      kept: 'Ce qui est conserv\u00e9\u00a0: {text}',
      done: 'Merci. Votre v\u00e9rification est termin\u00e9e.',
      permission_denied: 'L\u2019acc\u00e8s \u00e0 la cam\u00e9ra a \u00e9t\u00e9 refus\u00e9. Autorisez la cam\u00e9ra pour ce site dans les r\u00e9glages du navigateur, puis r\u00e9essayez.',
      no_camera: 'Aucune cam\u00e9ra n\u2019a \u00e9t\u00e9 trouv\u00e9e sur cet appareil.',
      camera_in_use: 'La cam\u00e9ra est utilis\u00e9e par une autre application. Fermez-la, puis r\u00e9essayez.',
      unsupported: 'Ce navigateur ne peut pas utiliser la cam\u00e9ra. Essayez une version r\u00e9cente de Chrome, Firefox ou Safari.',
      network_lost: 'La connexion a \u00e9t\u00e9 perdue. Veuillez r\u00e9essayer.',
      session_expired: 'Cette v\u00e9rification a expir\u00e9. Veuillez recommencer.',
      session_used: 'Cette v\u00e9rification a d\u00e9j\u00e0 \u00e9t\u00e9 utilis\u00e9e. Veuillez recommencer.',
      error: 'Un probl\u00e8me est survenu. Veuillez r\u00e9essayer.',
      region: 'V\u00e9rification du visage',
      steps_count: '\u00c9tapes\u00a0: {n}',
      step_of: '\u00c9tape {n} sur {total}',
      step_of_done: '\u00c9tape {n} sur {total} termin\u00e9e',
      end_not_completed: 'Non termin\u00e9e',
      end_declined: 'Refus\u00e9e',
      end_try_again: 'Veuillez r\u00e9essayer',
      end_finished: 'V\u00e9rification termin\u00e9e',
      reason_no_face: 'Regardez la cam\u00e9ra',
      reason_multiple_faces: 'Assurez-vous d\u2019\u00eatre seul\u00b7e dans le champ',
      reason_face_too_small: 'Rapprochez-vous',
      reason_face_cut_off: 'Centrez votre visage dans le cadre',
      reason_face_too_close: 'Reculez un peu',
      reason_too_dark: 'Trouvez un endroit plus \u00e9clair\u00e9',
      reason_too_bright: '\u00c9loignez-vous de la lumi\u00e8re directe',
      reason_backlit: 'Faites face \u00e0 la lumi\u00e8re\u00a0; \u00e9vitez un arri\u00e8re-plan lumineux',
      reason_too_blurry: 'Ne bougez plus',
      reason_pose_out_of_range: 'Regardez la cam\u00e9ra',
      reason_eyes_closed: 'Ouvrez les yeux',
      reason_spoof_suspected: 'Nous n\u2019avons pas pu confirmer une personne vivante',
      reason_face_mismatch: 'Le visage ne correspond pas',
      reason_reference_no_face: 'Aucun visage trouv\u00e9 dans l\u2019image de r\u00e9f\u00e9rence',
      reason_face_changed: 'Ne gardez que votre propre visage dans le champ',
      reason_liveness_uncertain: 'Placez-vous face \u00e0 une lumi\u00e8re, ne bougez plus et r\u00e9essayez',
      reason_face_lost: 'Gardez votre visage dans le champ',
      reason_challenge_failed: 'Suivez les consignes \u00e0 l\u2019\u00e9cran',
      reason_too_few_frames: 'Ne bougez plus et continuez \u00e0 regarder la cam\u00e9ra',
      reason_replayed_frame: 'Nous n\u2019avons pas pu confirmer une personne vivante',
      reason_timing_anomaly: 'Nous n\u2019avons pas pu confirmer une personne vivante',
      reason_injection_suspected: 'Nous n\u2019avons pas pu confirmer une personne vivante',
      reason_light_mismatch: 'Nous n\u2019avons pas pu confirmer une personne vivante',
      reason_flat_face: 'Nous n\u2019avons pas pu confirmer une personne vivante',
      reason_light_unmeasurable: 'Augmentez la luminosit\u00e9 de l\u2019\u00e9cran et \u00e9loignez-vous du soleil direct',
      reason_connection_lost: 'La connexion a \u00e9t\u00e9 perdue\u00a0; veuillez r\u00e9essayer',
      reason_session_timeout: 'Le temps est \u00e9coul\u00e9\u00a0; veuillez r\u00e9essayer',
      step_blink: 'Clignez des yeux',
      step_turn_left: 'Tournez la t\u00eate vers la gauche',
      step_turn_right: 'Tournez la t\u00eate vers la droite',
      step_look_up: 'Levez les yeux',
      step_move_closer: 'Rapprochez-vous',
      step_open_mouth: 'Ouvrez la bouche'
    }
  };

  // pickLanguage is the first of the wanted languages the SDK has.
  function pickLanguage(wanted) {
    var list = [].concat(wanted || [], document.documentElement.lang || [], navigator.languages || [], navigator.language || []);
    for (var i = 0; i < list.length; i++) {
      var l = String(list[i]).toLowerCase();
      if (CATALOGUES[l]) return l;
      if (CATALOGUES[l.split('-')[0]]) return l.split('-')[0];
    }
    return 'en';
  }

  // translator returns t(key, vars, fallback) for a language.
  function translator(lang) {
    return function (key, vars, fallback) {
      var s = CATALOGUES[lang][key];
      if (s === undefined) s = fallback !== undefined ? fallback : CATALOGUES.en[key];
      if (s === undefined) s = key;
      Object.keys(vars || {}).forEach(function (k) { s = s.split('{' + k + '}').join(String(vars[k])); });
      return s;
    };
  }

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
    var lang = pickLanguage(opts.lang);
    var t = translator(lang);
    if (!document.getElementById('presence-capture-style')) {
      var st = el('style');
      st.id = 'presence-capture-style';
      st.textContent = STYLE;
      document.head.appendChild(st);
    }
    var root = el('div', 'presence-capture', null);
    root.setAttribute('role', 'region');
    root.setAttribute('aria-label', t('region'));
    root.setAttribute('lang', lang);
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
      if (CATALOGUES.en[state]) stepText.textContent = t(state);
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
      showEnd(false, t('end_not_completed'));
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
      overlay.textContent = t('light');
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
          progress.textContent = m.steps ? t('steps_count', { n: m.steps }) : '';
          if (recording && m.light) recording.light = m.light;
          setState('capturing');
          timer = setInterval(sendFrame, 1000 / maxFPS);
          if (m.light) showLight(m.light);
          break;
        case 'guidance':
          guidance.textContent = m.code === 'ok' ? '' : t('reason_' + m.code, null, m.message);
          root.setAttribute('data-guidance', m.code);
          break;
        case 'step':
          progress.textContent = t('step_of', { n: m.index + 1, total: m.total });
          root.setAttribute('data-step', m.step);
          setState('step', m);
          stepText.textContent = t('step_' + m.step, null, m.message);
          break;
        case 'step_done':
          progress.textContent = t('step_of_done', { n: m.index + 1, total: m.total });
          break;
        case 'done':
          finished = true;
          stop();
          progress.textContent = ''; // a step counter must not outlive the check
          root.removeAttribute('data-step');
          var tips = (m.guidance || []).map(function (r) { return t('reason_' + r.code, null, r.message); });
          guidance.textContent = tips.join('. ');
          if (m.status === 'declined') {
            setState('declined', m);
            guidance.textContent = '';
            showEnd(false, t('end_declined'));
            if (opts.onDone) opts.onDone({ status: 'declined', guidance: [] });
            break;
          }
          if (m.status === 'succeeded') {
            setState('done', m);
            showEnd(!tips.length, tips.length ? t('end_try_again') : t('end_finished'));
            if (tips.length) {
              stepText.textContent = t('end_try_again');
              root.classList.add('pc-failed');
            }
          } else {
            setState('network_lost', m);
            showEnd(false, t('end_not_completed'));
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
      // The notice in the SDK's language when the relying party wrote one.
      var langs = Object.keys(notice.texts || {});
      var noticeLang = langs.filter(function (l) { return l.toLowerCase() === lang; })[0] ||
        langs.filter(function (l) { return l.toLowerCase().split('-')[0] === lang; })[0] ||
        langs.filter(function (l) { return l.toLowerCase().split('-')[0] === 'en'; })[0] || langs[0];
      var text = notice.texts[noticeLang] || {};
      var panel = el('section', 'pc-notice', root);
      panel.setAttribute('aria-labelledby', 'pc-notice-title');
      var h = el('h2', null, panel);
      h.id = 'pc-notice-title';
      h.textContent = t('notice');
      [['who', text.controller], ['what', text.purpose], ['kept', text.kept]].forEach(function (row) {
        el('p', null, panel).textContent = t(row[0], { text: row[1] || '' });
      });
      if (notice.policy_url) {
        var a = el('a', null, el('p', null, panel));
        a.href = notice.policy_url;
        a.target = '_blank';
        a.rel = 'noopener';
        a.textContent = t('policy');
      }
      var buttons = el('p', null, panel);
      var yes = el('button', 'pc-agree', buttons);
      yes.type = 'button';
      yes.textContent = t('agree');
      var no = el('button', 'pc-decline', buttons);
      no.type = 'button';
      no.textContent = t('decline');
      function answer(agree) {
        panel.remove();
        consent = { agree: agree, language: noticeLang };
        if (agree) {
          setState('starting');
          openCamera();
        } else {
          stepText.textContent = t('declined');
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

  global.Presence = { start: start, version: '1', messages: CATALOGUES, languages: Object.keys(CATALOGUES) };
})(window);
