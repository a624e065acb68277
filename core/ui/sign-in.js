/*
 * Latch hosted sign-in and registration page. Talks to the Experience API of this tenant
 * (<tenant endpoint>/api/experience), which the interaction cookie authenticates; every mutating
 * call carries the interaction's CSRF token. No dependencies, no inline code (the page's CSP
 * allows only scripts and styles from this origin).
 */
'use strict';

(function () {
  const body = document.body;
  const mode = body.dataset.mode === 'register' ? 'register' : 'sign-in';
  const base = body.dataset.base || '/';
  const api = base + 'api/experience';

  const $ = (id) => document.getElementById(id);
  const form = $('form');
  const identifier = $('identifier');
  const password = $('password');
  const submit = $('submit');
  const errorBox = $('error');

  let csrfToken = '';
  let passwordPolicy = null;
  // The server embeds the translations of the page's language (<html lang>).
  let strings = {};
  try {
    strings = JSON.parse($('i18n').textContent) || {};
  } catch (e) {
    strings = {};
  }

  function format(text, vars) {
    return text.replace(/\{(\w+)\}/g, (match, key) =>
      vars && Object.prototype.hasOwnProperty.call(vars, key) ? String(vars[key]) : match);
  }

  function t(key, vars) {
    return format(Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key, vars);
  }

  function showError(text, fields) {
    errorBox.textContent = text;
    for (const input of [identifier, password]) {
      if (fields && fields.includes(input)) {
        input.setAttribute('aria-invalid', 'true');
      } else {
        input.removeAttribute('aria-invalid');
      }
    }
  }

  function clearError() {
    showError('', []);
  }

  function setBusy(busy) {
    submit.disabled = busy;
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
    submit.textContent = busy ? t('working') : t('continue');
  }

  class ApiError extends Error {
    constructor(status, payload) {
      super((payload && payload.message) || 'HTTP ' + status);
      this.status = status;
      this.code = payload && payload.code;
      this.data = payload && payload.data;
    }
  }

  async function call(method, path, payload) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      headers['X-CSRF-Token'] = csrfToken;
      init.body = JSON.stringify(payload || {});
    }
    const response = await fetch(api + path, init);
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (!response.ok) {
      throw new ApiError(response.status, data);
    }
    return data;
  }

  function passwordMessage(error) {
    const issues = error.data && Array.isArray(error.data.issues) ? error.data.issues : [];
    const issue = issues[0];
    if (issue && typeof issue.code === 'string') {
      const key = 'password.' + issue.code.replace(/^password_rejected\./, '');
      if (Object.prototype.hasOwnProperty.call(strings, key)) {
        return t(key, issue.interpolation);
      }
    }
    return t('password.generic');
  }

  function messageFor(error) {
    if (!(error instanceof ApiError)) {
      return t('error.network');
    }
    switch (error.code) {
      case 'session.invalid_credentials':
        return t('error.invalidCredentials');
      case 'user.suspended':
        return t('error.suspended');
      case 'session.verification_blocked_too_many_attempts':
        return t('error.locked');
      case 'session.not_found':
      case 'session.interaction_not_found':
      case 'session.csrf_token_mismatch':
        return t('error.sessionNotFound');
      case 'user.username_already_in_use':
        return t('error.usernameTaken');
      case 'password.rejected':
        return passwordMessage(error);
      case 'auth.forbidden':
        return t(mode === 'register' ? 'error.registrationDisabled' : 'error.signInDisabled');
      case 'guard.invalid_input':
        if (mode === 'register' && /^identifier\.value/.test(error.message)) {
          return t('error.usernameInvalid');
        }
        return t('error.generic');
      default:
        return t('error.generic');
    }
  }

  function fieldsFor(error) {
    if (!(error instanceof ApiError)) {
      return [];
    }
    switch (error.code) {
      case 'session.invalid_credentials':
        return [identifier, password];
      case 'password.rejected':
        return [password];
      case 'user.username_already_in_use':
      case 'guard.invalid_input':
        return [identifier];
      default:
        return [];
    }
  }

  function applyStrings(info) {
    for (const element of document.querySelectorAll('[data-i18n]')) {
      element.textContent = t(element.dataset.i18n);
    }
    const register = mode === 'register';
    const title = t(register ? 'title.register' : 'title.signIn');
    document.title = title;
    $('heading').textContent = title;
    $('identifier-label').textContent = t(register ? 'username' : 'identifier');
    $('to-register-line').hidden = register;
    $('to-sign-in-line').hidden = !register;
    submit.textContent = t('continue');

    if (register) {
      password.setAttribute('autocomplete', 'new-password');
      if (passwordPolicy && passwordPolicy.length && passwordPolicy.length.min) {
        const hint = $('password-hint');
        hint.textContent = t('passwordHint', { min: passwordPolicy.length.min });
        hint.hidden = false;
      }
    }
    if (info && info.applicationName) {
      const app = $('app');
      app.textContent = t('toContinue', { app: info.applicationName });
      app.hidden = false;
    }
    if (info && info.signInMode === 'SignIn') {
      $('to-register-line').hidden = true;
    }
    if (info && info.signInMode === 'Register') {
      $('to-sign-in-line').hidden = true;
    }
  }

  async function init() {
    let info = null;
    try {
      info = await call('GET', '/interaction');
    } catch (error) {
      showError(error instanceof ApiError ? t('error.sessionNotFound') : t('error.network'));
      submit.disabled = true;
      return;
    }
    csrfToken = info.csrfToken || '';
    passwordPolicy = info.passwordPolicy || null;
    // A page the sign-in experience does not offer sends the person to the one it does.
    if (mode === 'register' && info.signInMode === 'SignIn') {
      window.location.replace(base + 'sign-in');
      return;
    }
    if (mode === 'sign-in' && info.signInMode === 'Register') {
      window.location.replace(base + 'register');
      return;
    }
    applyStrings(info);
    renderSocial(info.socialConnectors);
    if (mode === 'sign-in' && info.loginHint && !identifier.value) {
      identifier.value = info.loginHint;
      password.focus();
    } else {
      identifier.focus();
    }
  }

  // One button per enabled social connector ("Continue with Hugging Face"), in the tenant's
  // order. The state and redirect URI are bound to the interaction by the server.
  function renderSocial(connectors) {
    const box = $('social');
    box.textContent = '';
    if (!Array.isArray(connectors) || connectors.length === 0) {
      box.hidden = true;
      $('social-divider').hidden = true;
      return;
    }
    for (const connector of connectors) {
      const button = document.createElement('button');
      button.type = 'button';
      button.id = 'social-' + connector.target;
      button.className = 'social-button';
      if (typeof connector.logo === 'string' && connector.logo.startsWith('data:image/')) {
        const img = document.createElement('img');
        img.src = connector.logo;
        img.alt = '';
        img.width = 20;
        img.height = 20;
        button.appendChild(img);
      }
      const label = document.createElement('span');
      label.textContent = t('continueWith', { name: connector.name || connector.target });
      button.appendChild(label);
      button.addEventListener('click', () => startSocial(connector, button));
      box.appendChild(button);
    }
    box.hidden = false;
    $('social-divider').hidden = false;
  }

  async function startSocial(connector, button) {
    if (button.disabled) {
      return;
    }
    clearError();
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      const state = Array.from(crypto.getRandomValues(new Uint8Array(16)),
        (b) => b.toString(16).padStart(2, '0')).join('');
      const result = await call('POST',
        '/verification/social/' + encodeURIComponent(connector.id) + '/authorization-uri',
        { state, redirectUri: window.location.origin + base + 'callback/' + connector.id });
      window.location.assign(result.authorizationUri);
    } catch (error) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      showError(error instanceof ApiError && (error.code === 'connector.not_found' ||
        error.code === 'auth.forbidden') ? t('error.socialUnavailable') : messageFor(error));
    }
  }

  async function signIn(id, secret) {
    await call('PUT', '', { interactionEvent: 'SignIn' });
    const type = id.includes('@') ? 'email' : 'username';
    const verification = await call('POST', '/verification/password', {
      identifier: { type, value: id },
      password: secret,
    });
    await call('POST', '/identification', { verificationId: verification.verificationId });
  }

  async function register(id, secret) {
    await call('PUT', '', { interactionEvent: 'Register' });
    const verification = await call('POST', '/verification/new-password-identity', {
      identifier: { type: 'username', value: id },
      password: secret,
    });
    await call('POST', '/identification', { verificationId: verification.verificationId });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submit.disabled) {
      return;
    }
    clearError();
    const id = identifier.value.trim();
    const secret = password.value;
    if (!id || !secret) {
      showError(t(mode === 'register' ? 'error.requiredRegister' : 'error.required'),
        [!id ? identifier : null, !secret ? password : null].filter(Boolean));
      (id ? password : identifier).focus();
      return;
    }
    if (mode === 'register' && !/^[A-Za-z_]\w*$/.test(id)) {
      showError(t('error.usernameInvalid'), [identifier]);
      identifier.focus();
      return;
    }
    setBusy(true);
    try {
      if (mode === 'register') {
        await register(id, secret);
      } else {
        await signIn(id, secret);
      }
      const result = await call('POST', '/submit', {});
      window.location.assign(result.redirectTo);
    } catch (error) {
      setBusy(false);
      const fields = fieldsFor(error);
      showError(messageFor(error), fields);
      if (fields.includes(password)) {
        password.value = '';
        password.focus();
      } else {
        (fields[0] || identifier).focus();
      }
    }
  });

  // Before the load event: the title and labels are in the page's language at once.
  applyStrings(null);
  init().finally(() => {
    body.classList.remove('loading');
  });
})();
