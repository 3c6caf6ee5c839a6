/*
 * Face-login app: runs a registration or login as the backend tells it.
 * The backend starts a Presence session (POST /app/api/start), this page
 * runs the capture SDK with the session's client token, and the backend
 * reads the verdict (POST /app/api/attempts/ID/finish). This page never
 * sees a score: it shows what the backend says.
 */
(function () {
  'use strict';
  var form = document.getElementById('face-form');
  if (!form) return;
  var csrf = document.querySelector('meta[name=csrf-token]').content;
  var sections = {
    form: form,
    capture: document.getElementById('capture'),
    checking: document.getElementById('checking'),
    outcome: document.getElementById('outcome')
  };
  var username = document.getElementById('username');
  var check = null;
  var attempt = null;
  var cancelled = false;
  // Exposed for the end-to-end tests, which wait on it: the last screen.
  window.faceLogin = { state: 'form', screen: null };

  // The page's sentences in its language (the English sentence is the
  // key, as in the server's catalogues).
  var M = {};
  try { M = JSON.parse(document.getElementById('app-messages').textContent) || {}; } catch (e) { /* English */ }
  function t(s) { return M[s] || s; }
  var lang = document.documentElement.lang || 'en';

  // Offline fallbacks, used only when the backend cannot be reached, and
  // for the app's own errors.
  var FALLBACK = {
    network_lost: { code: 'network_lost', title: t('Connection lost'), message: t('The connection to the server was lost. Check your connection, then try again.') },
    error: { code: 'error', title: t('Something went wrong'), message: t('Please try again in a moment.') }
  };

  function show(name) {
    Object.keys(sections).forEach(function (k) { sections[k].hidden = k !== name; });
    window.faceLogin.state = name;
    document.body.setAttribute('data-flow', name);
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return { ok: false, screen: FALLBACK.error }; });
    }, function () {
      return { ok: false, screen: FALLBACK.network_lost };
    });
  }

  function showScreen(s) {
    if (!s || s.code === 'error') s = FALLBACK.error;
    document.getElementById('outcome-text').textContent = s.title;
    var msg = s.message;
    if (s.retry_at) {
      var at = new Date(s.retry_at);
      if (!isNaN(at)) msg = msg.replace(/\d\d:\d\d UTC/, at.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' }));
    }
    document.getElementById('outcome-message').textContent = msg;
    var tips = document.getElementById('outcome-tips');
    tips.textContent = '';
    (s.tips || []).forEach(function (t) {
      var li = document.createElement('li');
      li.textContent = t;
      tips.appendChild(li);
    });
    var link = document.getElementById('outcome-link');
    link.hidden = !s.link;
    if (s.link) { link.href = s.link; link.textContent = s.link_text; }
    sections.outcome.setAttribute('data-code', s.code);
    window.faceLogin.screen = s.code;
    show('outcome');
    document.getElementById('outcome-title').focus();
  }

  function finish(r) {
    check = null;
    if (cancelled) {
      post('/app/api/attempts/' + encodeURIComponent(attempt) + '/abandon', { state: 'cancelled' });
      show('form');
      username.focus();
      return;
    }
    if (r.status !== 'succeeded') {
      // The check could not run (camera, connection): say why.
      post('/app/api/attempts/' + encodeURIComponent(attempt) + '/abandon', { state: r.state }).then(function (res) {
        showScreen(res.screen || FALLBACK[r.state] || FALLBACK.error);
      });
      return;
    }
    show('checking');
    post('/app/api/attempts/' + encodeURIComponent(attempt) + '/finish').then(function (res) {
      if (res.ok && res.redirect) {
        window.faceLogin.state = 'success';
        window.location.assign(res.redirect);
        return;
      }
      showScreen(res.screen);
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var kind = (ev.submitter && ev.submitter.value) || 'register';
    var name = username.value.trim().toLowerCase();
    if (kind !== 'face_login' && name === '') {
      username.setAttribute('aria-invalid', 'true');
      showScreen({ code: 'invalid_username', title: t('Username needed'), message: t('Enter your username, or log in with your face only.') });
      return;
    }
    username.removeAttribute('aria-invalid');
    cancelled = false;
    show('checking');
    document.getElementById('checking-text').textContent = t('Starting the face check…');
    var body = { kind: kind, username: name };
    var recovery = document.getElementById('recovery-code');
    if (recovery) { body.recovery_code = recovery.value.trim(); }
    post('/app/api/start', body).then(function (res) {
      if (!res.ok) { showScreen(res.screen); return; }
      attempt = res.attempt;
      document.getElementById('checking-text').textContent = t('Checking your face…');
      show('capture');
      document.getElementById('capture-title').focus();
      var area = document.getElementById('capture-area');
      area.textContent = '';
      check = Presence.start({
        container: area,
        sessionId: res.session_id,
        clientToken: res.client_token,
        lang: lang,
        onDone: finish
      });
    });
  });

  document.getElementById('cancel').addEventListener('click', function () {
    if (check) { cancelled = true; check.cancel(); }
  });
  document.getElementById('retry').addEventListener('click', function () {
    show('form');
    username.focus();
  });
  show('form');
})();
