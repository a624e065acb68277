/*
 * Latch hosted sign-in and registration page. Talks to the Experience API of this tenant
 * (<tenant endpoint>/api/experience), which the interaction cookie authenticates; every mutating
 * call carries the interaction's CSRF token. No dependencies but qrcode.js (vendored, MIT; it
 * draws the TOTP enrolment QR code), no inline code (the page's CSP allows only scripts and
 * styles from this origin). WebAuthn ceremonies run here with navigator.credentials; the
 * Experience API speaks @simplewebauthn's JSON (binary fields in base64url), converted below.
 * The tenant's branding arrives as data attributes of the body (core/experience/pages.c) and is
 * applied here through CSSOM custom properties, which the CSP allows where a style attribute
 * would not be.
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
  let info = null; // GET /interaction, once read
  // The code flow under way: {kind: 'signIn' | 'register' | 'forgot' | 'bind' | 'username' |
  // 'password', step: 'address' | 'code' | 'username' | 'password', identifier: {type, value},
  // verificationId}, or null. The last three complete an account that lacks what the sign-up
  // settings require (user.missing_profile) before the sign-in finishes.
  let flow = null;
  let bindTypes = []; // what a 'bind' flow takes: ['email'], ['phone'] or both
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
    for (const input of document.querySelectorAll('input')) {
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
        if (flow) {
          return t(flow.step === 'code' ? 'error.codeInvalid'
            : flow.step === 'username' ? 'error.usernameInvalid' : 'error.addressInvalid');
        }
        if (mode === 'register' && /^identifier\.value/.test(error.message)) {
          return t('error.usernameInvalid');
        }
        return t('error.generic');
      case 'verification_code.code_mismatch':
        return t('error.codeMismatch');
      case 'verification_code.expired':
      case 'verification_code.not_found':
        return t('error.codeExpired');
      case 'verification_code.exceed_max_try':
        return t('error.codeTooManyTries');
      case 'guard.too_many_requests':
        return t('error.tooManyRequests');
      case 'session.mfa.invalid_totp_code':
        return t('error.totpInvalid');
      case 'session.mfa.invalid_backup_code':
        return t('error.backupCodeInvalid');
      case 'session.mfa.webauthn_verification_failed':
        return t('error.webAuthnFailed');
      case 'user.webauthn_already_in_use':
        return t('error.webAuthnInUse');
      case 'connector.not_found':
        return t('error.noSender');
      case 'connector.invalid_config':
      case 'connector.general':
      case 'connector.timeout':
      case 'connector.address_refused':
        // The mail or text could not be sent (the connector's code says why, in the log).
        return flow ? t('error.noSender') : t('error.generic');
      case 'user.user_not_exist':
        return t('error.noAccount');
      case 'user.email_already_in_use':
      case 'user.phone_already_in_use':
        return t('error.addressTaken');
      case 'session.forgot_password_not_enabled':
      case 'user.sign_in_method_not_enabled':
      case 'user.sign_up_method_not_enabled':
        return t('error.methodDisabled');
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
    offerCodes();
    if (info.identified && info.interactionEvent !== 'ForgotPassword') {
      // Back from a social sign-in, or a reload: someone is signed in already, and the account
      // may still lack what the sign-up settings require.
      try {
        await finish();
      } catch (error) {
        showError(messageFor(error), []);
      }
      return;
    }
    if (flow) {
      return;
    }
    offerPasskey();
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

  // ---- one-time codes: passwordless sign-in and sign-up, password reset ----

  const codeForm = $('code-form');
  const cfAddress = $('cf-address');
  const cfCode = $('cf-code');
  const cfPassword = $('cf-password');
  const cfSubmit = $('cf-submit');
  const cfResend = $('cf-resend');

  // The identifier types ('email', 'phone') a code may be sent to for a kind of flow.
  function codeTypes(kind) {
    if (!info) {
      return [];
    }
    if (kind === 'bind') {
      return bindTypes;
    }
    if (kind === 'forgot') {
      const methods = Array.isArray(info.forgotPasswordMethods) ? info.forgotPasswordMethods : [];
      return ['email', 'phone'].filter((type) =>
        methods.includes(type === 'email' ? 'EmailVerificationCode' : 'PhoneVerificationCode'));
    }
    if (kind === 'register') {
      const up = info.signUp || {};
      const ids = Array.isArray(up.identifiers) ? up.identifiers : [];
      // The page registers by code alone: no username or password to choose as well.
      if (up.password || ids.includes('username')) {
        return [];
      }
      return ['email', 'phone'].filter((type) => ids.includes(type));
    }
    const methods = info.signIn && Array.isArray(info.signIn.methods) ? info.signIn.methods : [];
    return ['email', 'phone'].filter((type) =>
      methods.some((m) => m.identifier === type && m.verificationCode));
  }

  // Registration with a username and password that must also prove an email or phone (signUp
  // verify): the types the contact field takes, or none.
  function verifiedContactTypes() {
    const up = info && info.signUp ? info.signUp : {};
    const ids = Array.isArray(up.identifiers) ? up.identifiers : [];
    if (mode !== 'register' || !up.verify || !ids.includes('username')) {
      return [];
    }
    return ['email', 'phone'].filter((type) => ids.includes(type));
  }

  function passwordSignInOffered() {
    const methods = info && info.signIn && Array.isArray(info.signIn.methods) ? info.signIn.methods : [];
    return methods.length === 0 || methods.some((m) => m.password);
  }

  // Links under the password form, or the code form straight away when codes are the only way.
  function offerCodes() {
    const forgot = $('forgot');
    const useCode = $('use-code');
    if (mode === 'register') {
      const contact = verifiedContactTypes();
      $('contact-field').hidden = contact.length === 0;
      if (contact.length > 0) {
        $('contact-label').textContent = addressLabel(contact);
        $('contact').type = contact.length === 1 && contact[0] === 'email' ? 'email' : 'text';
      }
      if (codeTypes('register').length > 0) {
        openFlow('register', false);
      }
      return;
    }
    forgot.hidden = codeTypes('forgot').length === 0;
    useCode.hidden = codeTypes('signIn').length === 0;
    $('alt-line').hidden = forgot.hidden && useCode.hidden;
    if (!passwordSignInOffered() && !useCode.hidden) {
      openFlow('signIn', false);
    }
  }

  function addressLabel(types) {
    return t(types.length === 2 ? 'emailOrPhone' : types[0] === 'phone' ? 'phone' : 'email');
  }

  // {type, value} from what was typed, or null: a phone number is sent as its digits (Logto's
  // form), an email as typed.
  function parseAddress(text, types) {
    const value = text.trim();
    if (value.includes('@')) {
      return types.includes('email') && /^[^\s@]+@[^\s@]+$/.test(value) ? { type: 'email', value } : null;
    }
    const digits = value.replace(/[\s().-]/g, '').replace(/^\+/, '');
    return types.includes('phone') && /^\d{6,15}$/.test(digits) ? { type: 'phone', value: digits } : null;
  }

  function submitLabel() {
    return t(flow.step === 'address' ? 'sendCode'
      : flow.step === 'password' && flow.kind === 'forgot' ? 'setPassword' : 'continue');
  }

  function showStep() {
    const step = flow.step;
    $('cf-address-field').hidden = step === 'password' && flow.kind === 'password';
    cfAddress.readOnly = step !== 'address' && step !== 'username';
    $('cf-code-field').hidden = step !== 'code';
    $('cf-password-field').hidden = step !== 'password';
    cfResend.hidden = step !== 'code';
    cfSubmit.textContent = submitLabel();
    const target = step === 'address' || step === 'username' ? cfAddress : step === 'code' ? cfCode : cfPassword;
    target.focus();
  }

  function openFlow(kind, canGoBack = true) {
    stopAutofill(); // the passkey offer belongs to the password form
    const types = codeTypes(kind);
    flow = { kind, step: 'address', identifier: null, verificationId: null };
    clearError();
    $('notice').textContent = '';
    for (const id of ['form', 'alt-line', 'social', 'social-divider', 'to-register-line', 'to-sign-in-line']) {
      $(id).hidden = true;
    }
    const completing = kind === 'bind' || kind === 'username' || kind === 'password';
    const title = t(completing ? 'title.complete' : kind === 'forgot' ? 'title.forgot'
      : kind === 'register' ? 'title.register' : 'title.signIn');
    document.title = title;
    $('heading').textContent = title;
    $('cf-intro').textContent = t(completing ? 'intro.' + kind : kind === 'forgot' ? 'intro.forgot' : 'intro.code');
    $('cf-address-label').textContent = kind === 'username' ? t('username') : addressLabel(types);
    cfAddress.type = types.length === 1 && types[0] === 'email' ? 'email' : types.length === 1 ? 'tel' : 'text';
    cfAddress.setAttribute('autocomplete', types.length === 1 && types[0] === 'phone' ? 'tel' : 'email');
    cfAddress.value = !completing && identifier.value.includes('@') ? identifier.value.trim() : '';
    if (kind === 'username') {
      cfAddress.type = 'text';
      cfAddress.setAttribute('autocomplete', 'username');
      flow.step = 'username';
    } else if (kind === 'password') {
      flow.step = 'password';
    }
    cfCode.value = '';
    cfPassword.value = '';
    if ((kind === 'forgot' || kind === 'password') && passwordPolicy && passwordPolicy.length && passwordPolicy.length.min) {
      const hint = $('cf-password-hint');
      hint.textContent = t('passwordHint', { min: passwordPolicy.length.min });
      hint.hidden = false;
    }
    codeForm.hidden = false;
    $('back-line').hidden = !canGoBack;
    showStep();
  }

  // The code step of a registration whose username and password are already waiting in the
  // interaction: a code to the contact given, then identification creates the account.
  async function startContactCode(parsed) {
    openFlow('register');
    cfAddress.value = parsed.value;
    flow.identifier = parsed;
    await sendCode();
    flow.step = 'code';
    showStep();
  }

  function closeFlow(notice) {
    flow = null;
    codeForm.hidden = true;
    $('back-line').hidden = true;
    form.hidden = false;
    applyStrings(info);
    renderSocial(info && info.socialConnectors);
    offerCodes();
    clearError();
    $('notice').textContent = notice || '';
    identifier.focus();
  }

  function flowEvent() {
    // A 'bind' code goes to someone identified already, whatever the event (the server sends it
    // with the BindNewIdentifier template).
    return flow.kind === 'forgot' ? 'ForgotPassword'
      : flow.kind === 'register' || (flow.kind === 'bind' && mode === 'register') ? 'Register' : 'SignIn';
  }

  // Opens the step that gives the account what user.missing_profile names (one at a time; submit
  // asks again for the next).
  function openComplete(missing) {
    setBusy(false);
    if (missing === 'username' || missing === 'password') {
      openFlow(missing, false);
      return;
    }
    bindTypes = missing === 'emailOrPhone' ? ['email', 'phone'] : [missing === 'phone' ? 'phone' : 'email'];
    openFlow('bind', false);
  }

  // Submits the interaction and goes on to the application, or asks for what the account lacks,
  // or opens the MFA step the server asks for.
  async function finish() {
    try {
      const result = await call('POST', '/submit', {});
      window.location.assign(result.redirectTo);
    } catch (error) {
      const step = error instanceof ApiError ? mfaStepOf(error) : null;
      if (step && showMfa(step)) {
        return;
      }
      const missing = error instanceof ApiError && error.code === 'user.missing_profile' && error.data &&
        Array.isArray(error.data.missingProfile) ? error.data.missingProfile[0] : null;
      if (!missing) {
        throw error;
      }
      openComplete(missing);
    }
  }

  async function sendCode() {
    const result = await call('POST', '/verification/verification-code',
      { identifier: flow.identifier, interactionEvent: flowEvent() });
    flow.verificationId = result.verificationId;
    $('cf-code-hint').textContent = t('codeSent', { address: flow.identifier.value });
  }

  function setCodeBusy(busy) {
    cfSubmit.disabled = busy;
    cfResend.disabled = busy;
    codeForm.setAttribute('aria-busy', busy ? 'true' : 'false');
    if (busy) {
      cfSubmit.textContent = t('working');
    }
  }

  async function codeStep() {
    if (flow.step === 'address') {
      const types = codeTypes(flow.kind);
      const parsed = parseAddress(cfAddress.value, types);
      if (!parsed) {
        showError(t('error.addressInvalid'), [cfAddress]);
        return false;
      }
      flow.identifier = parsed;
      if (flow.kind !== 'bind') {
        await call('PUT', '', { interactionEvent: flowEvent() });
      }
      await sendCode();
      flow.step = 'code';
      return true;
    }
    if (flow.step === 'code') {
      const code = cfCode.value.trim();
      if (!/^\d{6}$/.test(code)) {
        showError(t('error.codeInvalid'), [cfCode]);
        return false;
      }
      await call('POST', '/verification/verification-code/verify',
        { identifier: flow.identifier, verificationId: flow.verificationId, code });
      if (flow.kind === 'bind') {
        await call('POST', '/profile', { type: flow.identifier.type, verificationId: flow.verificationId });
        await finish();
        return false;
      }
      await call('POST', '/identification', { verificationId: flow.verificationId });
      if (flow.kind === 'forgot') {
        flow.step = 'password';
        return true;
      }
      await finish();
      return false;
    }
    if (flow.step === 'username') {
      const name = cfAddress.value.trim();
      if (!/^[A-Za-z_]\w*$/.test(name)) {
        showError(t('error.usernameInvalid'), [cfAddress]);
        return false;
      }
      await call('POST', '/profile', { type: 'username', value: name });
      await finish();
      return false;
    }
    if (!cfPassword.value) {
      showError(t('error.newPasswordRequired'), [cfPassword]);
      return false;
    }
    if (flow.kind === 'password') {
      await call('POST', '/profile', { type: 'password', value: cfPassword.value });
      cfPassword.value = '';
      await finish();
      return false;
    }
    await call('PUT', '/profile/password', { password: cfPassword.value });
    await call('POST', '/submit', {});
    const address = flow.identifier.value;
    cfPassword.value = '';
    closeFlow(t('passwordChanged'));
    if (address.includes('@')) {
      identifier.value = address;
      password.focus();
    }
    return false;
  }

  codeForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (cfSubmit.disabled || !flow) {
      return;
    }
    clearError();
    $('notice').textContent = '';
    const step = flow.step;
    setCodeBusy(true);
    let moved = false;
    try {
      moved = await codeStep();
    } catch (error) {
      const field = step === 'address' || step === 'username' ? cfAddress : step === 'code' ? cfCode : cfPassword;
      showError(messageFor(error), [field]);
      field.focus();
    } finally {
      setCodeBusy(false);
      if (flow) {
        if (moved) {
          showStep();
        } else {
          cfSubmit.textContent = submitLabel();
        }
      }
    }
  });

  cfResend.addEventListener('click', async () => {
    if (cfResend.disabled || !flow || flow.step !== 'code') {
      return;
    }
    clearError();
    setCodeBusy(true);
    try {
      await sendCode();
      $('notice').textContent = t('codeResent');
      cfCode.value = '';
    } catch (error) {
      showError(messageFor(error), []);
    } finally {
      setCodeBusy(false);
      cfSubmit.textContent = t('continue');
      cfCode.focus();
    }
  });

  $('forgot').addEventListener('click', (event) => {
    event.preventDefault();
    openFlow('forgot');
  });
  $('use-code').addEventListener('click', (event) => {
    event.preventDefault();
    openFlow('signIn');
  });
  $('back').addEventListener('click', (event) => {
    event.preventDefault();
    closeFlow();
  });

  // ---- the MFA step ----

  function mfaStepOf(error) {
    const data = error.data || {};
    const problem = {
      'session.mfa.require_mfa_verification': 'require_mfa_verification',
      'user.missing_mfa': 'missing_mfa',
      'session.mfa.backup_code_required': 'backup_code_required',
    }[error.code];
    return problem ? { problem, availableFactors: data.availableFactors || [], skippable: !!data.skippable,
      backupCodesLeft: data.backupCodesLeft } : null;
  }

  const mfaForm = $('mfa-form');
  const mfaCode = $('mfa-code');
  const mfaSubmit = $('mfa-submit');
  // {mode: 'verify' | 'setup' | 'backup', factors, factor, verificationId, codes, skippable}
  let mfa = null;

  function mfaTitle(key) {
    const title = t(key);
    document.title = title;
    $('heading').textContent = title;
  }

  // The factors this page can offer, in the order it offers them; WebAuthn only where the
  // browser has it (and a secure context).
  function mfaFactorsOf(available) {
    const known = ['WebAuthn', 'Totp', 'BackupCode'];
    const webAuthn = typeof window.PublicKeyCredential === 'function' && window.isSecureContext;
    return (Array.isArray(available) ? available : [])
      .filter((f) => known.includes(f) && (f !== 'WebAuthn' || webAuthn))
      .sort((a, b) => known.indexOf(a) - known.indexOf(b));
  }

  // Shows the MFA step the server asks for; false when this page cannot offer it.
  function showMfa(step) {
    const factors = mfaFactorsOf(step.availableFactors);
    flow = null;
    for (const id of ['form', 'alt-line', 'social', 'social-divider', 'to-register-line',
      'to-sign-in-line', 'code-form', 'back-line']) {
      $(id).hidden = true;
    }
    $('notice').textContent = '';
    $('mfa').hidden = false;
    clearError();
    if (step.problem === 'backup_code_required') {
      mfa = { mode: 'backup', factors: ['BackupCode'], skippable: false };
      startBackupCodes();
      return true;
    }
    if (step.problem === 'missing_mfa') {
      // Enrolment: TOTP first where both are offered (it works on every device), a security key
      // or passkey a click away.
      const setup = ['Totp', 'WebAuthn'].filter((f) => factors.includes(f));
      mfa = { mode: 'setup', factors: setup, factor: setup[0], skippable: !!step.skippable };
      if (setup.length === 0) {
        mfa.factor = null;
        renderMfa();
        showError(t('error.mfaUnavailable'));
        mfaForm.hidden = true;
        return true;
      }
      startSetup();
      return true;
    }
    if (factors.length === 0) {
      return false;
    }
    mfa = { mode: 'verify', factors, factor: factors[0], skippable: false,
      backupCodesLeft: step.backupCodesLeft };
    renderMfa();
    return true;
  }

  function startSetup() {
    if (mfa.factor === 'Totp') {
      startTotpSetup();
    } else {
      renderMfa();
    }
  }

  const switchKeys = {
    verify: { BackupCode: 'mfa.useBackupCode', Totp: 'mfa.useTotp', WebAuthn: 'mfa.useWebAuthn' },
    setup: { Totp: 'mfa.setupTotp', WebAuthn: 'mfa.setupWebAuthn' },
  };

  function renderMfa() {
    const verifying = mfa.mode === 'verify';
    const backup = mfa.mode === 'backup';
    const webAuthn = mfa.factor === 'WebAuthn';
    mfaTitle(backup ? 'mfa.title.backup' : verifying ? 'mfa.title.verify' : 'mfa.title.setup');
    $('mfa-setup').hidden = mfa.mode !== 'setup' || mfa.factor !== 'Totp';
    $('mfa-backup').hidden = !backup;
    $('mfa-webauthn').hidden = !webAuthn;
    $('mfa-webauthn-start').textContent = t(verifying ? 'mfa.webAuthn.verify' : 'mfa.webAuthn.setup');
    mfaForm.hidden = backup || webAuthn || !mfa.factor;
    const isBackupCode = verifying && mfa.factor === 'BackupCode';
    $('mfa-intro').textContent = t(backup ? 'mfa.intro.codes'
      : webAuthn ? (verifying ? 'mfa.intro.webAuthn' : 'mfa.intro.webAuthnSetup')
        : mfa.mode === 'setup' ? 'mfa.intro.setup'
          : isBackupCode ? 'mfa.intro.backupCode' : 'mfa.intro.totp');
    $('mfa-code-label').textContent = t(isBackupCode ? 'mfa.backupLabel' : 'mfa.codeLabel');
    mfaCode.setAttribute('inputmode', isBackupCode ? 'text' : 'numeric');
    mfaCode.setAttribute('autocomplete', isBackupCode ? 'off' : 'one-time-code');
    const hint = $('mfa-code-hint');
    hint.hidden = !(isBackupCode && typeof mfa.backupCodesLeft === 'number');
    hint.textContent = hint.hidden ? '' : t('mfa.backupLeft', { n: mfa.backupCodesLeft });
    mfaCode.value = '';
    // One link for each other factor (at most two).
    const others = backup ? [] : mfa.factors.filter((f) => f !== mfa.factor);
    ['mfa-switch', 'mfa-switch-alt'].forEach((id, k) => {
      const link = $(id);
      link.hidden = !others[k];
      link.dataset.factor = others[k] || '';
      link.textContent = others[k] ? t(switchKeys[mfa.mode][others[k]]) : '';
    });
    $('mfa-skip').hidden = !mfa.skippable;
    $('mfa-alt').hidden = $('mfa-switch').hidden && $('mfa-skip').hidden;
    if (webAuthn) {
      $('mfa-webauthn-start').focus();
    } else if (!backup) {
      mfaCode.focus();
    }
  }

  // ---- WebAuthn: @simplewebauthn JSON (base64url) ⇄ the browser's ArrayBuffers ----

  function fromB64url(text) {
    const b64 = String(text).replace(/-/g, '+').replace(/_/g, '/');
    const raw = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = '';
    for (let i = 0; i < bytes.length; i += 1) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    return (Array.isArray(list) ? list : []).map((c) => ({ ...c, id: fromB64url(c.id) }));
  }

  function creationOptions(o) {
    return { ...o, challenge: fromB64url(o.challenge), user: { ...o.user, id: fromB64url(o.user.id) },
      excludeCredentials: descriptors(o.excludeCredentials) };
  }

  function requestOptions(o) {
    return { ...o, challenge: fromB64url(o.challenge), allowCredentials: descriptors(o.allowCredentials) };
  }

  // The credential as the server takes it (RegistrationResponseJSON / AuthenticationResponseJSON
  // with Logto's type: 'WebAuthn').
  function credentialJSON(cred) {
    const r = cred.response;
    const response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle && r.userHandle.byteLength > 0) {
        response.userHandle = toB64url(r.userHandle);
      }
    }
    return { id: cred.id, rawId: toB64url(cred.rawId), type: 'WebAuthn', response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults() };
  }

  // What a refused browser ceremony means to the person.
  function ceremonyMessage(error) {
    if (error instanceof ApiError) {
      return messageFor(error);
    }
    switch (error && error.name) {
      case 'NotAllowedError':
      case 'AbortError':
        return t('error.webAuthnCancelled');
      case 'InvalidStateError':
        return t('error.webAuthnInUse');
      case 'NotSupportedError':
      case 'SecurityError':
        return t('error.webAuthnUnsupported');
      default:
        return error instanceof TypeError ? t('error.network') : t('error.generic');
    }
  }

  async function webAuthnSetup() {
    const { verificationId, registrationOptions } =
      await call('POST', '/verification/web-authn/registration', {});
    const cred = await navigator.credentials.create({ publicKey: creationOptions(registrationOptions) });
    await call('POST', '/verification/web-authn/registration/verify',
      { verificationId, payload: credentialJSON(cred) });
    await call('POST', '/profile/mfa', { type: 'WebAuthn', verificationId });
  }

  async function webAuthnVerify() {
    const { verificationId, authenticationOptions } =
      await call('POST', '/verification/web-authn/authentication', {});
    const cred = await navigator.credentials.get({ publicKey: requestOptions(authenticationOptions) });
    await call('POST', '/verification/web-authn/authentication/verify',
      { verificationId, payload: credentialJSON(cred) });
  }

  // A button that runs action, then goes on with the sign-in; a failure is shown (with
  // message) and the button can be used again. ready: whether a click means anything yet.
  function onActionButton(id, action, message, ready) {
    const button = $(id);
    button.addEventListener('click', async () => {
      if (button.disabled || !ready()) {
        return;
      }
      clearError();
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      try {
        await action();
        await finish();
      } catch (error) {
        showError(message(error));
      } finally {
        button.disabled = false;
        button.removeAttribute('aria-busy');
      }
    });
  }

  const mfaReady = () => mfa !== null;
  onActionButton('mfa-webauthn-start', () => (mfa.mode === 'setup' ? webAuthnSetup() : webAuthnVerify()),
    ceremonyMessage, mfaReady);

  // ---- passkey sign-in (passkeySignIn): a discoverable credential instead of the password ----

  let passkeyAbort = null; // the conditional (autofill) request under way

  function stopAutofill() {
    if (passkeyAbort) {
      passkeyAbort.abort();
      passkeyAbort = null;
    }
  }

  // Asks the authenticator for any passkey of this site (no allow list: the passkey's user
  // handle names the account), proves it, and signs its owner in. With mediation 'conditional'
  // the browser offers the passkeys in the identifier field's autofill instead of a dialog.
  async function passkeySignIn(mediation, signal) {
    await call('PUT', '', { interactionEvent: 'SignIn' });
    const { verificationId, authenticationOptions } =
      await call('POST', '/verification/sign-in-passkey/authentication', {});
    const request = { publicKey: requestOptions(authenticationOptions) };
    if (mediation) {
      request.mediation = mediation;
      request.signal = signal;
    }
    const cred = await navigator.credentials.get(request);
    await call('POST', '/verification/sign-in-passkey/authentication/verify',
      { verificationId, payload: credentialJSON(cred) });
    await call('POST', '/identification', { verificationId });
  }

  function offerPasskey() {
    const settings = info && info.passkeySignIn;
    if (mode !== 'sign-in' || !settings || settings.enabled !== true ||
      typeof window.PublicKeyCredential !== 'function' || !window.isSecureContext) {
      return;
    }
    $('passkey-sign-in').hidden = settings.showPasskeyButton !== true;
    if (settings.allowAutofill === true) {
      startAutofill();
    }
  }

  async function startAutofill() {
    const available = typeof PublicKeyCredential.isConditionalMediationAvailable === 'function' &&
      await PublicKeyCredential.isConditionalMediationAvailable().catch(() => false);
    if (!available) {
      return;
    }
    identifier.setAttribute('autocomplete', 'username webauthn');
    passkeyAbort = new AbortController();
    try {
      await passkeySignIn('conditional', passkeyAbort.signal);
      await finish();
    } catch (error) {
      // Aborted: the button or the password took over.
      if (!(error && error.name === 'AbortError')) {
        showError(ceremonyMessage(error));
      }
    }
  }

  onActionButton('passkey-sign-in', () => {
    stopAutofill();
    return passkeySignIn();
  }, ceremonyMessage, () => true);

  // Draws text as a QR code (error correction M, 4 modules of quiet zone) on the canvas.
  function drawQr(canvas, text) {
    if (typeof qrcode !== 'function') {
      canvas.hidden = true;
      return;
    }
    const qr = qrcode(0, 'M');
    qr.addData(text);
    qr.make();
    const n = qr.getModuleCount();
    const scale = Math.max(3, Math.floor(200 / (n + 8)));
    const size = (n + 8) * scale;
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, size, size);
    ctx.fillStyle = '#000000';
    for (let r = 0; r < n; r += 1) {
      for (let c = 0; c < n; c += 1) {
        if (qr.isDark(r, c)) {
          ctx.fillRect((c + 4) * scale, (r + 4) * scale, scale, scale);
        }
      }
    }
    canvas.setAttribute('aria-label', t('mfa.qrLabel'));
    canvas.hidden = false;
  }

  async function startTotpSetup() {
    renderMfa();
    mfaSubmit.disabled = true;
    try {
      const result = await call('POST', '/verification/totp/secret', {});
      mfa.verificationId = result.verificationId;
      const uri = result.keyUri || result.secretQrCode;
      drawQr($('mfa-qr'), uri);
      $('mfa-secret').textContent = result.secret.replace(/(.{4})(?=.)/g, '$1 ');
      $('mfa-uri').href = uri;
    } catch (error) {
      showError(messageFor(error));
    } finally {
      mfaSubmit.disabled = false;
      mfaCode.focus();
    }
  }

  async function startBackupCodes() {
    renderMfa();
    const list = $('mfa-codes');
    list.textContent = '';
    $('mfa-saved').disabled = true;
    try {
      const result = await call('POST', '/verification/backup-code/generate', {});
      mfa.verificationId = result.verificationId;
      mfa.codes = result.codes;
      for (const code of result.codes) {
        const item = document.createElement('li');
        item.textContent = code;
        list.appendChild(item);
      }
      $('mfa-saved').disabled = false;
      $('mfa-saved').focus();
    } catch (error) {
      showError(messageFor(error));
    }
  }

  function codesText() {
    const app = info && info.applicationName ? info.applicationName : window.location.host;
    return t('mfa.fileHeader', { app }) + '\n\n' + mfa.codes.join('\n') + '\n';
  }

  $('mfa-copy').addEventListener('click', async () => {
    if (!mfa || !mfa.codes) {
      return;
    }
    try {
      await navigator.clipboard.writeText(codesText());
      $('notice').textContent = t('mfa.copied');
    } catch (error) {
      // No clipboard (an insecure origin, or refused): the codes stay on screen to copy by hand.
      $('notice').textContent = '';
    }
  });

  $('mfa-download').addEventListener('click', () => {
    if (!mfa || !mfa.codes) {
      return;
    }
    const url = URL.createObjectURL(new Blob([codesText()], { type: 'text/plain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = 'backup-codes.txt';
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  onActionButton('mfa-saved', () => call('POST', '/profile/mfa',
    { type: 'BackupCode', verificationId: mfa.verificationId }), messageFor, mfaReady);

  for (const id of ['mfa-switch', 'mfa-switch-alt']) {
    $(id).addEventListener('click', (event) => {
      event.preventDefault();
      const factor = event.currentTarget.dataset.factor;
      if (!mfa || mfa.mode === 'backup' || !mfa.factors.includes(factor)) {
        return;
      }
      mfa.factor = factor;
      clearError();
      if (mfa.mode === 'setup') {
        startSetup();
      } else {
        renderMfa();
      }
    });
  }

  $('mfa-skip').addEventListener('click', async (event) => {
    event.preventDefault();
    clearError();
    try {
      await call('POST', '/profile/mfa/mfa-skipped', {});
      await finish();
    } catch (error) {
      showError(messageFor(error));
    }
  });

  mfaForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (mfaSubmit.disabled || !mfa) {
      return;
    }
    clearError();
    const code = mfaCode.value.replace(/\s+/g, '');
    if (!code) {
      showError(t('error.mfaCodeRequired'), [mfaCode]);
      mfaCode.focus();
      return;
    }
    mfaSubmit.disabled = true;
    mfaSubmit.textContent = t('working');
    try {
      if (mfa.mode === 'setup') {
        await call('POST', '/verification/totp/verify', { verificationId: mfa.verificationId, code });
        await call('POST', '/profile/mfa', { type: 'Totp', verificationId: mfa.verificationId });
      } else if (mfa.factor === 'BackupCode') {
        await call('POST', '/verification/backup-code/verify', { code });
      } else {
        await call('POST', '/verification/totp/verify', { code });
      }
      await finish();
    } catch (error) {
      showError(messageFor(error), [mfaCode]);
      mfaCode.value = '';
      mfaCode.focus();
    } finally {
      mfaSubmit.disabled = false;
      mfaSubmit.textContent = t('continue');
    }
  });

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
    const contactTypes = verifiedContactTypes();
    const contact = contactTypes.length > 0 ? parseAddress($('contact').value, contactTypes) : null;
    if (contactTypes.length > 0 && !contact) {
      showError(t('error.addressInvalid'), [$('contact')]);
      $('contact').focus();
      return;
    }
    stopAutofill();
    setBusy(true);
    try {
      if (contact) {
        // The username and password wait in the interaction until the code proves the contact.
        await call('PUT', '', { interactionEvent: 'Register' });
        await call('POST', '/verification/new-password-identity', {
          identifier: { type: 'username', value: id },
          password: secret,
        });
        setBusy(false);
        await startContactCode(contact);
        return;
      }
      if (mode === 'register') {
        await register(id, secret);
      } else {
        await signIn(id, secret);
      }
      await finish();
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

  // ---- branding: the tenant's logo and primary colour ----

  // [r, g, b] of "#rgb" or "#rrggbb" (the server sends nothing else), or null.
  function parseHex(text) {
    const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec((text || '').trim());
    if (!hex) {
      return null;
    }
    const h = hex[1].length === 3 ? hex[1].replace(/./g, '$&$&') : hex[1];
    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
  }

  const toHex = (rgb) => '#' + rgb.map((c) => Math.round(c).toString(16).padStart(2, '0')).join('');

  // WCAG 2 relative luminance and contrast ratio.
  function luminance(rgb) {
    const [r, g, b] = rgb.map((c) => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  function contrast(a, b) {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  }

  // The colour moved toward `to` until it reaches `ratio` against `against` (the brand's hue
  // kept as far as readability allows).
  function readableOn(rgb, against, to, ratio) {
    let c = rgb;
    for (let step = 0; step < 20 && contrast(c, against) < ratio; step++) {
      c = c.map((v, i) => v + (to[i] - v) * 0.15);
    }
    return c;
  }

  const latchLogo = document.querySelector('.logo');
  const latchLogoSrc = latchLogo ? latchLogo.getAttribute('src') : '';
  const darkQuery = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

  function applyBranding() {
    const dark = !!(darkQuery && darkQuery.matches);
    const root = document.documentElement.style;
    // data-dark-* are present only when the tenant enabled dark mode.
    const primary = parseHex((dark && body.dataset.darkPrimary) || body.dataset.primary);
    for (const name of ['--accent', '--accent-hover', '--accent-text', '--link', '--focus']) {
      root.removeProperty(name);
    }
    if (primary) {
      const card = parseHex(getComputedStyle(document.documentElement).getPropertyValue('--card'))
        || (dark ? [27, 30, 38] : [255, 255, 255]);
      const white = [255, 255, 255];
      const black = [0, 0, 0];
      // Text on a button of the brand colour: whichever of white and black reads better.
      const onPrimary = contrast(primary, white) >= contrast(primary, black) ? white : black;
      // Links and the focus ring sit on the card: 4.5:1 for text, which also covers the ring.
      const link = readableOn(primary, card, dark ? white : black, 4.5);
      root.setProperty('--accent', toHex(primary));
      // Hover moves away from the text colour, so the text stays as readable.
      const away = onPrimary === white ? black : white;
      root.setProperty('--accent-hover', toHex(primary.map((v, i) => v + (away[i] - v) * 0.12)));
      root.setProperty('--accent-text', toHex(onPrimary));
      root.setProperty('--link', toHex(link));
      root.setProperty('--focus', toHex(link));
    }
    if (latchLogo) {
      const logo = (dark && body.dataset.darkLogo) || body.dataset.logo;
      if (logo && latchLogo.getAttribute('src') !== logo) {
        latchLogo.classList.add('tenant-logo');
        latchLogo.removeAttribute('width');
        latchLogo.removeAttribute('height');
        latchLogo.src = logo;
      }
    }
  }

  if (latchLogo) {
    // A logo that does not load (gone, or plain http, which the CSP refuses): Latch's instead.
    latchLogo.addEventListener('error', () => {
      if (latchLogo.classList.contains('tenant-logo')) {
        latchLogo.classList.remove('tenant-logo');
        latchLogo.setAttribute('width', '44');
        latchLogo.setAttribute('height', '44');
        latchLogo.src = latchLogoSrc;
      }
    });
  }
  applyBranding();
  if (darkQuery && darkQuery.addEventListener) {
    darkQuery.addEventListener('change', applyBranding);
  }

  // Before the load event: the title and labels are in the page's language at once.
  applyStrings(null);
  init().finally(() => {
    body.classList.remove('loading');
  });
})();
