// The admin console: a single-page application on Preact + htm (copied from npm at build time,
// served from /ui/ with this file), for one tenant's administrators. It signs in through the
// tenant's own OIDC (authorization code + PKCE with the reserved application `admin-console`,
// resource <tenant endpoint>/api, scope `all`), keeps its tokens in memory only (a reload signs
// in again, silently while the tenant's session lasts), refreshes with the refresh-token grant,
// signs out through the end-session endpoint, and calls only the public Management API.
import { h, render } from './preact.js';
import { useState, useEffect, useRef, useCallback } from './preact-hooks.js';
import htm from './htm.js';

const html = htm.bind(h);
const body = document.body.dataset;
const ENDPOINT = body.endpoint; // configured tenant endpoint: what the server registered
const BASE = body.base; // its path, for same-origin requests ("/" or "/t/<id>/")
const CLIENT_ID = 'admin-console';
const API_RESOURCE = `${ENDPOINT}/api`;
const REDIRECT_URI = `${ENDPOINT}/console/callback`;
const HOME = `${BASE}console`;
const PAGE_SIZE = 20;

// ---- translations ----

let strings = {};
let fallback = {};
let lang = 'en';

async function loadStrings(want) {
  const get = async (l) => (await fetch(`${body.ui}console-${l}.json?v=${body.v}`)).json();
  fallback = await get('en');
  strings = want === 'es' ? await get('es') : fallback;
  lang = want === 'es' ? 'es' : 'en';
  document.documentElement.lang = lang;
}

function t(key, vars) {
  let s = strings[key] ?? fallback[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

// ---- sign-in (authorization code + PKCE); tokens live in these variables only ----

const session = { access: null, refresh: null, idToken: null, expiresAt: 0, scope: '' };
let refreshTimer = null;

const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const randomText = (n = 32) => b64url(crypto.getRandomValues(new Uint8Array(n)));

async function startSignIn(returnTo) {
  const verifier = randomText(48);
  const state = randomText(16);
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  // Not tokens: what the callback needs to finish this one sign-in, then removed.
  sessionStorage.setItem('latch.console.pkce', JSON.stringify({ verifier, state, returnTo }));
  const q = new URLSearchParams({
    client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: 'code',
    scope: 'openid offline_access profile all', resource: API_RESOURCE, state,
    code_challenge: challenge, code_challenge_method: 'S256', ui_locales: lang,
  });
  location.assign(`${BASE}oidc/auth?${q}`);
}

async function tokenRequest(params) {
  const res = await fetch(`${BASE}oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: CLIENT_ID, ...params }),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error_description || json.error || `HTTP ${res.status}`);
  return json;
}

function keep(tokens) {
  session.access = tokens.access_token;
  session.refresh = tokens.refresh_token ?? session.refresh;
  session.idToken = tokens.id_token ?? session.idToken;
  session.scope = tokens.scope ?? '';
  session.expiresAt = Date.now() + (tokens.expires_in ?? 3600) * 1000;
  clearTimeout(refreshTimer);
  const inMs = Math.max(5000, (tokens.expires_in ?? 3600) * 1000 - 60000);
  if (session.refresh) refreshTimer = setTimeout(() => refreshTokens().catch(() => {}), inMs);
}

async function refreshTokens() {
  if (!session.refresh) throw new Error('no refresh token');
  keep(await tokenRequest({ grant_type: 'refresh_token', refresh_token: session.refresh, resource: API_RESOURCE }));
}

async function finishSignIn() {
  const q = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem('latch.console.pkce') || 'null');
  sessionStorage.removeItem('latch.console.pkce');
  if (q.get('error')) throw new Error(q.get('error_description') || q.get('error'));
  if (!saved || !q.get('code') || q.get('state') !== saved.state) throw new Error(t('signin.stateMismatch'));
  keep(await tokenRequest({
    grant_type: 'authorization_code', code: q.get('code'), redirect_uri: REDIRECT_URI,
    code_verifier: saved.verifier, resource: API_RESOURCE,
  }));
  return saved.returnTo && saved.returnTo.startsWith(HOME) ? saved.returnTo : HOME;
}

function signOut() {
  const q = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: `${ENDPOINT}/console` });
  if (session.idToken) q.set('id_token_hint', session.idToken);
  session.access = session.refresh = session.idToken = null;
  location.assign(`${BASE}oidc/session/end?${q}`);
}

const isAdmin = () => session.scope.split(' ').includes('all');

// ---- the Management API ----

class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message);
    this.status = status;
    this.code = code;
    this.data = data; // Logto's optional `data` (e.g. a webhook test's responseStatus)
  }
}

async function api(method, path, data, { retried = false } = {}) {
  if (Date.now() > session.expiresAt - 30000 && session.refresh) await refreshTokens().catch(() => {});
  const res = await fetch(`${BASE}api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${session.access}`,
      ...(data !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: data !== undefined ? JSON.stringify(data) : undefined,
  });
  if (res.status === 401 && !retried && session.refresh) {
    await refreshTokens();
    return api(method, path, data, { retried: true });
  }
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!res.ok) {
    throw new ApiError(res.status, json?.code ?? `http.${res.status}`, json?.message ?? `HTTP ${res.status}`, json?.data);
  }
  return { data: json, total: Number(res.headers.get('total-number') ?? (Array.isArray(json) ? json.length : 0)) };
}

function errorText(e) {
  if (!(e instanceof ApiError)) return String(e?.message ?? e);
  const answered = e.data?.responseStatus ? ` HTTP ${e.data.responseStatus}` : '';
  return `${e.message} (${e.code})${answered}`;
}

// ---- navigation ----

function navigate(to) {
  history.pushState(null, '', to);
  window.dispatchEvent(new Event('latch:navigate'));
}

function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    window.addEventListener('popstate', on);
    window.addEventListener('latch:navigate', on);
    return () => {
      window.removeEventListener('popstate', on);
      window.removeEventListener('latch:navigate', on);
    };
  }, []);
  return path;
}

function Link({ to, children, ...rest }) {
  const onClick = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    navigate(to);
  };
  return html`<a href=${to} onClick=${onClick} ...${rest}>${children}</a>`;
}

// ---- building blocks ----

let fieldIds = 0;
function Field({ label, value, onInput, type = 'text', required, hint, ...rest }) {
  const id = useRef(`f${++fieldIds}`).current;
  return html`<div>
    <label for=${id}>${label}</label>
    ${type === 'textarea'
      ? html`<textarea id=${id} value=${value} onInput=${(e) => onInput(e.target.value)} aria-describedby=${hint ? `${id}-h` : undefined} ...${rest}></textarea>`
      : html`<input id=${id} type=${type} value=${value} required=${required} onInput=${(e) => onInput(e.target.value)} aria-describedby=${hint ? `${id}-h` : undefined} ...${rest} />`}
    ${hint && html`<p id=${`${id}-h`} class="muted">${hint}</p>`}
  </div>`;
}

function Select({ label, value, onChange, options }) {
  const id = useRef(`f${++fieldIds}`).current;
  return html`<div>
    <label for=${id}>${label}</label>
    <select id=${id} value=${options.some(([v]) => v === value) ? value : options[0]?.[0]} onChange=${(e) => onChange(e.target.value)}>
      ${options.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
    </select>
  </div>`;
}

// A checkbox with its label after it.
function Check({ id, label, checked, onChange, disabled }) {
  return html`<div class="row">
    <input id=${id} type="checkbox" checked=${checked} disabled=${disabled} onChange=${(e) => onChange(e.target.checked)} />
    <label class="check" for=${id}>${label}</label></div>`;
}

const ErrorBox = ({ error }) => (error ? html`<div class="error" role="alert">${error}</div>` : null);
const Notice = ({ text }) => (text ? html`<div class="notice" role="status">${text}</div>` : null);
const Loading = () => html`<p class="loading" role="status">${t('loading')}</p>`;

// A modal confirmation (<dialog>: focus stays inside, Escape cancels).
function Confirm({ text, action, onConfirm, onCancel }) {
  const ref = useRef(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  return html`<dialog ref=${ref} aria-labelledby="confirm-text" onClose=${onCancel}>
    <p id="confirm-text">${text}</p>
    <div class="row">
      <button class="danger" onClick=${onConfirm}>${action}</button>
      <button class="secondary" onClick=${() => ref.current?.close()}>${t('cancel')}</button>
    </div>
  </dialog>`;
}

// A button that asks first, then runs fn; errors go to onError.
function DangerButton({ label, question, fn, onError }) {
  const [asking, setAsking] = useState(false);
  const go = async () => {
    setAsking(false);
    try { await fn(); } catch (e) { onError(errorText(e)); }
  };
  return html`<span>
    <button class="danger" onClick=${() => setAsking(true)}>${label}</button>
    ${asking && html`<${Confirm} text=${question} action=${label} onConfirm=${go} onCancel=${() => setAsking(false)} />`}
  </span>`;
}

// Loads path (a list) with pagination and optional search; render(rows, reload) draws them.
function useList(path, { paged = true, search = '', searchKey = 'search' } = {}) {
  const [page, setPage] = useState(1);
  const [state, setState] = useState({ loading: true, rows: [], total: 0, error: null });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  useEffect(() => setPage(1), [search, path]);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    const q = new URLSearchParams();
    if (paged) {
      q.set('page', String(page));
      q.set('page_size', String(PAGE_SIZE));
    }
    if (search) q.set(searchKey, search);
    const sep = path.includes('?') ? '&' : '?';
    api('GET', `${path}${q.toString() ? sep + q : ''}`)
      .then(({ data, total }) => live && setState({ loading: false, rows: data ?? [], total, error: null }))
      .catch((e) => live && setState({ loading: false, rows: [], total: 0, error: errorText(e) }));
    return () => { live = false; };
  }, [path, page, search, tick]);
  return { ...state, page, setPage, reload };
}

function Pager({ list }) {
  const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
  if (list.total <= PAGE_SIZE) return null;
  return html`<nav class="pager" aria-label=${t('pagination')}>
    <button class="secondary" disabled=${list.page <= 1} onClick=${() => list.setPage(list.page - 1)}>${t('previous')}</button>
    <span>${t('pageOf', { page: list.page, pages })}</span>
    <button class="secondary" disabled=${list.page >= pages} onClick=${() => list.setPage(list.page + 1)}>${t('next')}</button>
  </nav>`;
}

// A table of list rows: columns are [header, row => cell].
function Table({ list, columns, caption, empty }) {
  if (list.loading) return html`<${Loading} />`;
  if (list.error) return html`<${ErrorBox} error=${list.error} />`;
  if (list.rows.length === 0) return html`<p class="muted">${empty ?? t('empty')}</p>`;
  return html`<table>
      <caption class="muted">${caption} (${list.total})</caption>
      <thead><tr>${columns.map(([head]) => html`<th scope="col">${head}</th>`)}</tr></thead>
      <tbody>${list.rows.map((row) => html`<tr>${columns.map(([, cell]) => html`<td>${cell(row)}</td>`)}</tr>`)}</tbody>
    </table>
    <${Pager} list=${list} />`;
}

function SearchBox({ value, onSearch, label }) {
  const [text, setText] = useState(value);
  return html`<form role="search" class="row" onSubmit=${(e) => { e.preventDefault(); onSearch(text); }}>
    <${Field} label=${label} value=${text} onInput=${setText} type="search" />
    <button type="submit">${t('search')}</button>
  </form>`;
}

// A form that runs submit() and shows what failed.
function useSubmit(fn) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e?.preventDefault();
    setBusy(true);
    setError(null);
    try { await fn(); } catch (err) { setError(errorText(err)); }
    setBusy(false);
  };
  return { busy, error, setError, run };
}

const lines = (text) => text.split('\n').map((s) => s.trim()).filter(Boolean);
const when = (ms) => (ms ? new Date(ms).toLocaleString(lang) : '—');

// ---- pages ----

function Dashboard() {
  const [counts, setCounts] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    Promise.all(['/users', '/applications', '/organizations', '/roles'].map((p) => api('GET', `${p}?page=1&page_size=1`)))
      .then((r) => setCounts(r.map((x) => x.total)))
      .catch((e) => setError(errorText(e)));
  }, []);
  return html`<h1>${t('nav.dashboard')}</h1>
    <${ErrorBox} error=${error} />
    ${!counts && !error && html`<${Loading} />`}
    ${counts && html`<div class="counts">
      ${['users', 'applications', 'organizations', 'roles'].map((k, i) => html`<div class="card"><h2>${t(`nav.${k}`)}</h2><p>${counts[i]}</p></div>`)}
    </div>`}
    <${RecentSignIns} />`;
}

function GetStarted() {
  const issuer = `${ENDPOINT}/oidc`;
  const callback = 'http://localhost:3000/api/auth/callback/logto';
  const authjs = `import NextAuth from 'next-auth';
import Logto from 'next-auth/providers/logto';

export const { handlers, signIn, signOut, auth } = NextAuth({
  providers: [
    Logto({
      issuer: '${issuer}',
      clientId: process.env.AUTH_LOGTO_ID,
      clientSecret: process.env.AUTH_LOGTO_SECRET,
      authorization: { params: { scope: 'openid offline_access profile email' } },
    }),
  ],
});
// Redirect URI to register on the application: ${callback}`;
  const oidc = `import * as client from 'openid-client';

const config = await client.discovery(
  new URL('${issuer}'), '<client id>', '<client secret>');`;
  const curl = `curl -u '<client id>:<client secret>' \\
  -d grant_type=client_credentials \\
  -d resource=${API_RESOURCE} -d scope=all \\
  ${issuer}/token`;
  return html`<h1>${t('nav.start')}</h1>
    <div class="card">
      <h2>${t('start.endpoints')}</h2>
      <dl>
        <dt>${t('start.issuer')}</dt><dd><code>${issuer}</code></dd>
        <dt>${t('start.discovery')}</dt><dd><code>${issuer}/.well-known/openid-configuration</code></dd>
        <dt>${t('start.api')}</dt><dd><code>${API_RESOURCE}</code></dd>
      </dl>
    </div>
    <p>${t('start.intro')} <${Link} to=${`${HOME}/applications`}>${t('nav.applications')}</${Link}></p>
    <h2>Auth.js (next-auth/providers/logto)</h2>
    <pre tabindex="0" aria-label="Auth.js"><code>${authjs}</code></pre>
    <h2>openid-client</h2>
    <pre tabindex="0" aria-label="openid-client"><code>${oidc}</code></pre>
    <h2>${t('start.curl')}</h2>
    <pre tabindex="0" aria-label="curl"><code>${curl}</code></pre>`;
}

const APP_TYPES = ['Traditional', 'SPA', 'Native', 'MachineToMachine'];

function Applications() {
  const [search, setSearch] = useState('');
  const list = useList('/applications', { search });
  const [name, setName] = useState('');
  const [type, setType] = useState('Traditional');
  const [created, setCreated] = useState(null);
  const form = useSubmit(async () => {
    const { data } = await api('POST', '/applications', { name, type });
    setCreated(data);
    setName('');
    list.reload();
  });
  return html`<h1>${t('nav.applications')}</h1>
    <form class="card" onSubmit=${form.run} aria-labelledby="new-app">
      <h2 id="new-app">${t('apps.create')}</h2>
      <${Field} label=${t('name')} value=${name} onInput=${setName} required />
      <${Select} label=${t('type')} value=${type} onChange=${setType} options=${APP_TYPES.map((x) => [x, t(`apps.type.${x}`)])} />
      <${ErrorBox} error=${form.error} />
      <div class="row"><button type="submit" disabled=${form.busy}>${t('create')}</button></div>
    </form>
    ${created && html`<div class="card" role="status">
      <p>${t('apps.created', { name: created.name })} <${Link} to=${`${HOME}/applications/${created.id}`}>${t('open')}</${Link}></p>
      <p>${t('apps.clientId')}: <code>${created.id}</code></p>
      ${created.secret && html`<p>${t('apps.secretOnce')}</p><p class="secret" data-testid="new-secret">${created.secret}</p>`}
    </div>`}
    <${SearchBox} value=${search} onSearch=${setSearch} label=${t('apps.search')} />
    <${Table} list=${list} caption=${t('nav.applications')} columns=${[
      [t('name'), (a) => html`<${Link} to=${`${HOME}/applications/${a.id}`}>${a.name}</${Link}>`],
      [t('type'), (a) => t(`apps.type.${a.type}`)],
      [t('apps.clientId'), (a) => html`<code>${a.id}</code>`],
    ]} />`;
}

function ApplicationDetail({ id }) {
  const [app, setApp] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [uris, setUris] = useState({ redirect: '', logout: '', cors: '' });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    api('GET', `/applications/${encodeURIComponent(id)}`).then(({ data }) => {
      setApp(data);
      setUris({
        redirect: (data.oidcClientMetadata?.redirectUris ?? []).join('\n'),
        logout: (data.oidcClientMetadata?.postLogoutRedirectUris ?? []).join('\n'),
        cors: (data.customClientMetadata?.corsAllowedOrigins ?? []).join('\n'),
      });
    }).catch((e) => setError(errorText(e)));
  }, [id, tick]);
  const save = useSubmit(async () => {
    await api('PATCH', `/applications/${encodeURIComponent(id)}`, {
      oidcClientMetadata: { redirectUris: lines(uris.redirect), postLogoutRedirectUris: lines(uris.logout) },
      customClientMetadata: { corsAllowedOrigins: lines(uris.cors) },
    });
    setNotice(t('saved'));
    setTick((n) => n + 1);
  });
  const confidential = app && (app.type === 'Traditional' || app.type === 'MachineToMachine');
  const secrets = useList(`/applications/${encodeURIComponent(id)}/secrets`, { paged: false });
  const [secretName, setSecretName] = useState('');
  const [secretDays, setSecretDays] = useState('');
  const [newSecret, setNewSecret] = useState(null);
  const addSecret = useSubmit(async () => {
    const body = { name: secretName };
    if (secretDays) body.expiresAt = Date.now() + Number(secretDays) * 86400000;
    const { data } = await api('POST', `/applications/${encodeURIComponent(id)}/secrets`, body);
    setNewSecret(data.value);
    setSecretName('');
    secrets.reload();
  });
  if (error) return html`<h1>${t('nav.applications')}</h1><${ErrorBox} error=${error} />`;
  if (!app) return html`<${Loading} />`;
  return html`<h1>${app.name}</h1>
    <p><${Link} to=${`${HOME}/applications`}>← ${t('nav.applications')}</${Link}></p>
    <div class="card"><dl>
      <dt>${t('apps.clientId')}</dt><dd><code>${app.id}</code></dd>
      <dt>${t('type')}</dt><dd>${t(`apps.type.${app.type}`)}</dd>
      <dt>${t('start.issuer')}</dt><dd><code>${ENDPOINT}/oidc</code></dd>
    </dl></div>
    <${Notice} text=${notice} />
    ${app.type !== 'MachineToMachine' && html`<form class="card" onSubmit=${save.run} aria-labelledby="uris">
      <h2 id="uris">${t('apps.uris')}</h2>
      <${Field} type="textarea" label=${t('apps.redirectUris')} hint=${t('apps.onePerLine')} value=${uris.redirect} onInput=${(v) => setUris({ ...uris, redirect: v })} />
      <${Field} type="textarea" label=${t('apps.logoutUris')} hint=${t('apps.onePerLine')} value=${uris.logout} onInput=${(v) => setUris({ ...uris, logout: v })} />
      <${Field} type="textarea" label=${t('apps.cors')} hint=${t('apps.onePerLine')} value=${uris.cors} onInput=${(v) => setUris({ ...uris, cors: v })} />
      <${ErrorBox} error=${save.error} />
      <div class="row"><button type="submit" disabled=${save.busy}>${t('save')}</button></div>
    </form>`}
    ${confidential && html`<div class="card">
      <h2>${t('apps.secrets')}</h2>
      <${Table} list=${secrets} caption=${t('apps.secrets')} columns=${[
        [t('name'), (s) => s.name],
        [t('apps.hint'), (s) => html`<code>${s.hint}…</code>`],
        [t('created'), (s) => when(s.createdAt)],
        [t('apps.expires'), (s) => (s.expiresAt ? when(s.expiresAt) : t('apps.never'))],
        [t('actions'), (s) => html`<${DangerButton} label=${t('delete')} question=${t('apps.deleteSecret', { name: s.name })} onError=${addSecret.setError}
            fn=${async () => { await api('DELETE', `/applications/${encodeURIComponent(id)}/secrets/${encodeURIComponent(s.name)}`); secrets.reload(); }} />`],
      ]} />
      <form onSubmit=${addSecret.run}>
        <${Field} label=${t('apps.secretName')} value=${secretName} onInput=${setSecretName} required />
        <${Field} label=${t('apps.secretDays')} type="number" min="1" max="3650" value=${secretDays} onInput=${setSecretDays} />
        <${ErrorBox} error=${addSecret.error} />
        <div class="row"><button type="submit" disabled=${addSecret.busy}>${t('apps.newSecret')}</button></div>
      </form>
      ${newSecret && html`<div role="status"><p>${t('apps.secretOnce')}</p><p class="secret" data-testid="new-secret">${newSecret}</p></div>`}
    </div>`}
    ${app.type === 'MachineToMachine' && html`<${AppRoles} id=${id} />`}
    ${app.id !== CLIENT_ID && html`<div class="card"><h2>${t('dangerZone')}</h2>
      <${DangerButton} label=${t('apps.delete')} question=${t('apps.deleteQuestion', { name: app.name })} onError=${setError}
        fn=${async () => { await api('DELETE', `/applications/${encodeURIComponent(id)}`); navigate(`${HOME}/applications`); }} />
    </div>`}`;
}

// The machine-to-machine roles of an application (its permissions for client credentials).
function AppRoles({ id }) {
  const eid = encodeURIComponent(id);
  const roles = useList(`/applications/${eid}/roles`);
  const [error, setError] = useState(null);
  return html`<div class="card">
    <h2>${t('nav.roles')}</h2>
    <${ErrorBox} error=${error} />
    <${Table} list=${roles} caption=${t('nav.roles')} columns=${[
      [t('name'), (r) => html`<${Link} to=${`${HOME}/roles/${r.id}`}>${r.name}</${Link}>`],
      [t('actions'), (r) => html`<${DangerButton} label=${t('remove')} question=${t('roles.removeMember', { name: r.name })} onError=${setError}
          fn=${async () => { await api('DELETE', `/applications/${eid}/roles/${encodeURIComponent(r.id)}`); roles.reload(); }} />`],
    ]} />
    <${Picker} label=${t('nav.roles')} path="/roles?type=MachineToMachine" show=${(r) => r.name} button=${t('roles.assign')}
      onPick=${async (x) => { await api('POST', `/applications/${eid}/roles`, { roleIds: [x] }); roles.reload(); }} />
  </div>`;
}

function Resources() {
  const list = useList('/resources');
  const [name, setName] = useState('');
  const [indicator, setIndicator] = useState('');
  const form = useSubmit(async () => {
    const { data } = await api('POST', '/resources', { name, indicator });
    navigate(`${HOME}/resources/${data.id}`);
  });
  return html`<h1>${t('nav.resources')}</h1>
    <form class="card" onSubmit=${form.run} aria-labelledby="new-res">
      <h2 id="new-res">${t('res.create')}</h2>
      <${Field} label=${t('name')} value=${name} onInput=${setName} required />
      <${Field} label=${t('res.indicator')} hint=${t('res.indicatorHint')} value=${indicator} onInput=${setIndicator} required />
      <${ErrorBox} error=${form.error} />
      <div class="row"><button type="submit" disabled=${form.busy}>${t('create')}</button></div>
    </form>
    <${Table} list=${list} caption=${t('nav.resources')} columns=${[
      [t('name'), (r) => html`<${Link} to=${`${HOME}/resources/${r.id}`}>${r.name}</${Link}>`],
      [t('res.indicator'), (r) => html`<code>${r.indicator}</code>`],
    ]} />`;
}

function ResourceDetail({ id }) {
  const [res, setRes] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', `/resources/${encodeURIComponent(id)}`).then(({ data }) => setRes(data)).catch((e) => setError(errorText(e)));
  }, [id]);
  const scopes = useList(`/resources/${encodeURIComponent(id)}/scopes`);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const add = useSubmit(async () => {
    await api('POST', `/resources/${encodeURIComponent(id)}/scopes`, { name, description: description || null });
    setName('');
    setDescription('');
    scopes.reload();
  });
  if (error) return html`<h1>${t('nav.resources')}</h1><${ErrorBox} error=${error} />`;
  if (!res) return html`<${Loading} />`;
  return html`<h1>${res.name}</h1>
    <p><${Link} to=${`${HOME}/resources`}>← ${t('nav.resources')}</${Link}></p>
    <div class="card"><dl><dt>${t('res.indicator')}</dt><dd><code>${res.indicator}</code></dd></dl></div>
    <h2>${t('res.permissions')}</h2>
    <${Table} list=${scopes} caption=${t('res.permissions')} columns=${[
      [t('name'), (s) => html`<code>${s.name}</code>`],
      [t('description'), (s) => s.description ?? ''],
      [t('actions'), (s) => html`<${DangerButton} label=${t('delete')} question=${t('res.deleteScope', { name: s.name })} onError=${add.setError}
          fn=${async () => { await api('DELETE', `/resources/${encodeURIComponent(id)}/scopes/${encodeURIComponent(s.id)}`); scopes.reload(); }} />`],
    ]} />
    <form class="card" onSubmit=${add.run} aria-labelledby="new-scope">
      <h2 id="new-scope">${t('res.addPermission')}</h2>
      <${Field} label=${t('res.permissionName')} hint=${t('res.permissionHint')} value=${name} onInput=${setName} required />
      <${Field} label=${t('description')} value=${description} onInput=${setDescription} />
      <${ErrorBox} error=${add.error} />
      <div class="row"><button type="submit" disabled=${add.busy}>${t('add')}</button></div>
    </form>
    ${res.indicator !== API_RESOURCE && html`<div class="card"><h2>${t('dangerZone')}</h2>
      <${DangerButton} label=${t('res.delete')} question=${t('res.deleteQuestion', { name: res.name })} onError=${setError}
        fn=${async () => { await api('DELETE', `/resources/${encodeURIComponent(id)}`); navigate(`${HOME}/resources`); }} />
    </div>`}`;
}

function Roles() {
  const [search, setSearch] = useState('');
  const list = useList('/roles', { search });
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [type, setType] = useState('User');
  const form = useSubmit(async () => {
    const { data } = await api('POST', '/roles', { name, description, type });
    navigate(`${HOME}/roles/${data.id}`);
  });
  return html`<h1>${t('nav.roles')}</h1>
    <form class="card" onSubmit=${form.run} aria-labelledby="new-role">
      <h2 id="new-role">${t('roles.create')}</h2>
      <${Field} label=${t('name')} value=${name} onInput=${setName} required />
      <${Field} label=${t('description')} value=${description} onInput=${setDescription} required />
      <${Select} label=${t('type')} value=${type} onChange=${setType} options=${[['User', t('roles.type.User')], ['MachineToMachine', t('roles.type.MachineToMachine')]]} />
      <${ErrorBox} error=${form.error} />
      <div class="row"><button type="submit" disabled=${form.busy}>${t('create')}</button></div>
    </form>
    <${SearchBox} value=${search} onSearch=${setSearch} label=${t('roles.search')} />
    <${Table} list=${list} caption=${t('nav.roles')} columns=${[
      [t('name'), (r) => html`<${Link} to=${`${HOME}/roles/${r.id}`}>${r.name}</${Link}>`],
      [t('type'), (r) => t(`roles.type.${r.type}`)],
      [t('description'), (r) => r.description],
    ]} />`;
}

// Lets the administrator pick one item of a list endpoint by searching it.
function Picker({ label, path, show, onPick, button, searchKey = 'search' }) {
  const [q, setQ] = useState('');
  const [rows, setRows] = useState([]);
  const [chosen, setChosen] = useState('');
  const [error, setError] = useState(null);
  useEffect(() => {
    const sep = path.includes('?') ? '&' : '?';
    api('GET', `${path}${sep}page=1&page_size=50${q ? `&${searchKey}=${encodeURIComponent(q)}` : ''}`)
      .then(({ data }) => { setRows(data ?? []); setChosen(data?.[0]?.id ?? ''); })
      .catch((e) => setError(errorText(e)));
  }, [path, q]);
  const go = useSubmit(async () => { if (chosen) await onPick(chosen); });
  return html`<form onSubmit=${go.run}>
    <${Field} label=${`${label}: ${t('search')}`} value=${q} onInput=${setQ} type="search" />
    <${Select} label=${label} value=${chosen} onChange=${setChosen} options=${rows.map((r) => [r.id, show(r)])} />
    <${ErrorBox} error=${error || go.error} />
    <div class="row"><button type="submit" disabled=${go.busy || !chosen}>${button}</button></div>
  </form>`;
}

const userLabel = (u) => u.username || u.primaryEmail || u.primaryPhone || u.name || u.id;

function RoleDetail({ id }) {
  const [role, setRole] = useState(null);
  const [error, setError] = useState(null);
  const eid = encodeURIComponent(id);
  useEffect(() => {
    api('GET', `/roles/${eid}`).then(({ data }) => setRole(data)).catch((e) => setError(errorText(e)));
  }, [id]);
  const scopes = useList(`/roles/${eid}/scopes`);
  const members = useList(role?.type === 'MachineToMachine' ? `/roles/${eid}/applications` : `/roles/${eid}/users`);
  const [allScopes, setAllScopes] = useState([]);
  useEffect(() => {
    api('GET', '/resources?includeScopes=true').then(({ data }) =>
      setAllScopes(data.filter((r) => !(role?.type === 'User' && r.indicator === API_RESOURCE))
        .flatMap((r) => r.scopes.map((s) => ({ id: s.id, label: `${r.name}: ${s.name}` })))))
      .catch((e) => setError(errorText(e)));
  }, [role?.type]);
  const [scopeId, setScopeId] = useState('');
  const addScope = useSubmit(async () => {
    await api('POST', `/roles/${eid}/scopes`, { scopeIds: [scopeId || allScopes[0]?.id] });
    scopes.reload();
  });
  if (error) return html`<h1>${t('nav.roles')}</h1><${ErrorBox} error=${error} />`;
  if (!role) return html`<${Loading} />`;
  const m2m = role.type === 'MachineToMachine';
  return html`<h1>${role.name}</h1>
    <p><${Link} to=${`${HOME}/roles`}>← ${t('nav.roles')}</${Link}></p>
    <div class="card"><dl>
      <dt>${t('type')}</dt><dd>${t(`roles.type.${role.type}`)}</dd>
      <dt>${t('description')}</dt><dd>${role.description}</dd>
    </dl></div>
    <h2>${t('res.permissions')}</h2>
    <${Table} list=${scopes} caption=${t('res.permissions')} columns=${[
      [t('name'), (s) => html`<code>${s.name}</code>`],
      [t('nav.resources'), (s) => s.resource?.name ?? ''],
      [t('actions'), (s) => html`<${DangerButton} label=${t('remove')} question=${t('roles.removeScope', { name: s.name })} onError=${addScope.setError}
          fn=${async () => { await api('DELETE', `/roles/${eid}/scopes/${encodeURIComponent(s.id)}`); scopes.reload(); }} />`],
    ]} />
    <form class="card" onSubmit=${addScope.run}>
      <${Select} label=${t('roles.permission')} value=${scopeId} onChange=${setScopeId} options=${allScopes.map((s) => [s.id, s.label])} />
      <${ErrorBox} error=${addScope.error} />
      <div class="row"><button type="submit" disabled=${addScope.busy || allScopes.length === 0}>${t('roles.addPermission')}</button></div>
    </form>
    <h2>${m2m ? t('nav.applications') : t('nav.users')}</h2>
    <${Table} list=${members} caption=${m2m ? t('nav.applications') : t('nav.users')} columns=${[
      [t('name'), (x) => (m2m ? x.name : html`<${Link} to=${`${HOME}/users/${x.id}`}>${userLabel(x)}</${Link}>`)],
      [t('actions'), (x) => html`<${DangerButton} label=${t('remove')} question=${t('roles.removeMember', { name: m2m ? x.name : userLabel(x) })} onError=${setError}
          fn=${async () => { await api('DELETE', `/roles/${eid}/${m2m ? 'applications' : 'users'}/${encodeURIComponent(x.id)}`); members.reload(); }} />`],
    ]} />
    <div class="card">
      ${m2m
        ? html`<${Picker} label=${t('nav.applications')} path="/applications?types=MachineToMachine" show=${(a) => a.name} button=${t('roles.assign')}
            onPick=${async (x) => { await api('POST', `/roles/${eid}/applications`, { applicationIds: [x] }); members.reload(); }} />`
        : html`<${Picker} label=${t('nav.users')} path=${`/users?excludeRoleId=${eid}`} show=${userLabel} button=${t('roles.assign')}
            onPick=${async (x) => { await api('POST', `/roles/${eid}/users`, { userIds: [x] }); members.reload(); }} />`}
    </div>
    ${id !== 'console-admin' && html`<div class="card"><h2>${t('dangerZone')}</h2>
      <${DangerButton} label=${t('roles.delete')} question=${t('roles.deleteQuestion', { name: role.name })} onError=${setError}
        fn=${async () => { await api('DELETE', `/roles/${eid}`); navigate(`${HOME}/roles`); }} />
    </div>`}`;
}

function Users() {
  const [search, setSearch] = useState('');
  const list = useList('/users', { search });
  const [form, setForm] = useState({ username: '', primaryEmail: '', name: '', password: '' });
  const create = useSubmit(async () => {
    const b = {};
    for (const [k, v] of Object.entries(form)) if (v) b[k] = v;
    const { data } = await api('POST', '/users', b);
    navigate(`${HOME}/users/${data.id}`);
  });
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  return html`<h1>${t('nav.users')}</h1>
    <form class="card" onSubmit=${create.run} aria-labelledby="new-user">
      <h2 id="new-user">${t('users.create')}</h2>
      <${Field} label=${t('users.username')} value=${form.username} onInput=${set('username')} autocomplete="off" />
      <${Field} label=${t('users.email')} type="email" value=${form.primaryEmail} onInput=${set('primaryEmail')} autocomplete="off" />
      <${Field} label=${t('name')} value=${form.name} onInput=${set('name')} autocomplete="off" />
      <${Field} label=${t('users.password')} type="password" value=${form.password} onInput=${set('password')} autocomplete="new-password" />
      <${ErrorBox} error=${create.error} />
      <div class="row"><button type="submit" disabled=${create.busy}>${t('create')}</button></div>
    </form>
    <${SearchBox} value=${search} onSearch=${setSearch} label=${t('users.search')} />
    <${Table} list=${list} caption=${t('nav.users')} columns=${[
      [t('users.user'), (u) => html`<${Link} to=${`${HOME}/users/${u.id}`}>${userLabel(u)}</${Link}>`],
      [t('users.email'), (u) => u.primaryEmail ?? ''],
      [t('users.status'), (u) => (u.isSuspended ? t('users.suspended') : t('users.active'))],
      [t('users.lastSignIn'), (u) => when(u.lastSignInAt)],
    ]} />`;
}

function UserDetail({ id }) {
  const eid = encodeURIComponent(id);
  const [user, setUser] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [tick, setTick] = useState(0);
  const [profile, setProfile] = useState({ name: '', username: '', primaryEmail: '', customData: '{}' });
  useEffect(() => {
    api('GET', `/users/${eid}`).then(({ data }) => {
      setUser(data);
      setProfile({ name: data.name ?? '', username: data.username ?? '', primaryEmail: data.primaryEmail ?? '',
        customData: JSON.stringify(data.customData ?? {}, null, 2) });
    }).catch((e) => setError(errorText(e)));
  }, [id, tick]);
  const save = useSubmit(async () => {
    let customData;
    try { customData = JSON.parse(profile.customData); } catch { throw new Error(t('users.badJson')); }
    await api('PATCH', `/users/${eid}`, {
      name: profile.name || null, username: profile.username || null, primaryEmail: profile.primaryEmail || null, customData,
    });
    setNotice(t('saved'));
    setTick((n) => n + 1);
  });
  const [password, setPassword] = useState('');
  const pw = useSubmit(async () => {
    await api('PATCH', `/users/${eid}/password`, { password });
    setPassword('');
    setNotice(t('users.passwordSet'));
  });
  const roles = useList(`/users/${eid}/roles`);
  const orgs = useList(`/users/${eid}/organizations`, { paged: false });
  if (error) return html`<h1>${t('nav.users')}</h1><${ErrorBox} error=${error} />`;
  if (!user) return html`<${Loading} />`;
  const set = (k) => (v) => setProfile({ ...profile, [k]: v });
  return html`<h1>${userLabel(user)}</h1>
    <p><${Link} to=${`${HOME}/users`}>← ${t('nav.users')}</${Link}></p>
    <${Notice} text=${notice} />
    <div class="card"><dl>
      <dt>ID</dt><dd><code>${user.id}</code></dd>
      <dt>${t('users.status')}</dt><dd>${user.isSuspended ? t('users.suspended') : t('users.active')}</dd>
      <dt>${t('users.lastSignIn')}</dt><dd>${when(user.lastSignInAt)}</dd>
    </dl></div>
    <form class="card" onSubmit=${save.run} aria-labelledby="profile">
      <h2 id="profile">${t('users.profile')}</h2>
      <${Field} label=${t('users.username')} value=${profile.username} onInput=${set('username')} autocomplete="off" />
      <${Field} label=${t('users.email')} type="email" value=${profile.primaryEmail} onInput=${set('primaryEmail')} autocomplete="off" />
      <${Field} label=${t('name')} value=${profile.name} onInput=${set('name')} autocomplete="off" />
      <${Field} label=${t('users.customData')} type="textarea" value=${profile.customData} onInput=${set('customData')} />
      <${ErrorBox} error=${save.error} />
      <div class="row"><button type="submit" disabled=${save.busy}>${t('save')}</button></div>
    </form>
    <form class="card" onSubmit=${pw.run} aria-labelledby="pw">
      <h2 id="pw">${t('users.setPassword')}</h2>
      <${Field} label=${t('users.newPassword')} type="password" value=${password} onInput=${setPassword} autocomplete="new-password" required />
      <${ErrorBox} error=${pw.error} />
      <div class="row"><button type="submit" disabled=${pw.busy}>${t('users.setPassword')}</button></div>
    </form>
    <div class="card">
      <h2>${t('nav.roles')}</h2>
      <${Table} list=${roles} caption=${t('nav.roles')} columns=${[
        [t('name'), (r) => html`<${Link} to=${`${HOME}/roles/${r.id}`}>${r.name}</${Link}>`],
        [t('actions'), (r) => html`<${DangerButton} label=${t('remove')} question=${t('roles.removeMember', { name: r.name })} onError=${setError}
            fn=${async () => { await api('DELETE', `/users/${eid}/roles/${encodeURIComponent(r.id)}`); roles.reload(); }} />`],
      ]} />
      <${Picker} label=${t('nav.roles')} path="/roles?type=User" show=${(r) => r.name} button=${t('roles.assign')}
        onPick=${async (x) => { await api('POST', `/users/${eid}/roles`, { roleIds: [x] }); roles.reload(); }} />
    </div>
    <div class="card">
      <h2>${t('users.identities')}</h2>
      ${Object.keys(user.identities ?? {}).length === 0 && html`<p class="muted">${t('empty')}</p>`}
      ${Object.keys(user.identities ?? {}).length > 0 && html`<table>
        <thead><tr><th scope="col">${t('users.provider')}</th><th scope="col">${t('users.providerId')}</th><th scope="col">${t('actions')}</th></tr></thead>
        <tbody>${Object.entries(user.identities).map(([target, v]) => html`<tr><td>${target}</td><td><code>${v.userId}</code></td>
          <td><${DangerButton} label=${t('remove')} question=${t('users.unlinkQuestion', { name: target })} onError=${setError}
            fn=${async () => { await api('DELETE', `/users/${eid}/identities/${encodeURIComponent(target)}`); setTick((n) => n + 1); }} /></td></tr>`)}</tbody>
      </table>`}
    </div>
    <div class="card">
      <h2>${t('nav.organizations')}</h2>
      <${Table} list=${orgs} caption=${t('nav.organizations')} columns=${[
        [t('name'), (o) => html`<${Link} to=${`${HOME}/organizations/${o.id}`}>${o.name}</${Link}>`],
      ]} />
    </div>
    <${UserMfa} eid=${eid} onNotice=${setNotice} />
    <${UserSessions} eid=${eid} onNotice=${setNotice} />
    <${UserLogs} eid=${eid} />
    <div class="card"><h2>${t('dangerZone')}</h2>
      <div class="row">
        <${DangerButton} label=${user.isSuspended ? t('users.reactivate') : t('users.suspend')}
          question=${user.isSuspended ? t('users.reactivateQuestion') : t('users.suspendQuestion')} onError=${setError}
          fn=${async () => { await api('PATCH', `/users/${eid}/is-suspended`, { isSuspended: !user.isSuspended }); setTick((n) => n + 1); }} />
        <${DangerButton} label=${t('users.delete')} question=${t('users.deleteQuestion', { name: userLabel(user) })} onError=${setError}
          fn=${async () => { await api('DELETE', `/users/${eid}`); navigate(`${HOME}/users`); }} />
      </div>
    </div>`;
}

function Organizations() {
  const [search, setSearch] = useState('');
  const list = useList('/organizations', { search, searchKey: 'q' });
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const form = useSubmit(async () => {
    const { data } = await api('POST', '/organizations', { name, description: description || null });
    navigate(`${HOME}/organizations/${data.id}`);
  });
  return html`<h1>${t('nav.organizations')}</h1>
    <form class="card" onSubmit=${form.run} aria-labelledby="new-org">
      <h2 id="new-org">${t('orgs.create')}</h2>
      <${Field} label=${t('name')} value=${name} onInput=${setName} required />
      <${Field} label=${t('description')} value=${description} onInput=${setDescription} />
      <${ErrorBox} error=${form.error} />
      <div class="row"><button type="submit" disabled=${form.busy}>${t('create')}</button></div>
    </form>
    <${SearchBox} value=${search} onSearch=${setSearch} label=${t('orgs.search')} />
    <${Table} list=${list} caption=${t('nav.organizations')} columns=${[
      [t('name'), (o) => html`<${Link} to=${`${HOME}/organizations/${o.id}`}>${o.name}</${Link}>`],
      [t('description'), (o) => o.description ?? ''],
    ]} />`;
}

function OrganizationDetail({ id }) {
  const eid = encodeURIComponent(id);
  const [org, setOrg] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', `/organizations/${eid}`).then(({ data }) => setOrg(data)).catch((e) => setError(errorText(e)));
  }, [id]);
  const members = useList(`/organizations/${eid}/users`);
  const [orgRoles, setOrgRoles] = useState([]);
  useEffect(() => {
    api('GET', '/organization-roles').then(({ data }) => setOrgRoles((data ?? []).filter((r) => r.type !== 'MachineToMachine'))).catch(() => {});
  }, []);
  const [member, setMember] = useState('');
  const [orgRole, setOrgRole] = useState('');
  const grant = useSubmit(async () => {
    await api('POST', `/organizations/${eid}/users/${encodeURIComponent(member || members.rows[0]?.id)}/roles`,
      { organizationRoleIds: [orgRole || orgRoles[0]?.id] });
    members.reload();
  });
  if (error) return html`<h1>${t('nav.organizations')}</h1><${ErrorBox} error=${error} />`;
  if (!org) return html`<${Loading} />`;
  return html`<h1>${org.name}</h1>
    <p><${Link} to=${`${HOME}/organizations`}>← ${t('nav.organizations')}</${Link}></p>
    <div class="card"><dl><dt>ID</dt><dd><code>${org.id}</code></dd><dt>${t('description')}</dt><dd>${org.description ?? ''}</dd></dl></div>
    <h2>${t('orgs.members')}</h2>
    <${Table} list=${members} caption=${t('orgs.members')} columns=${[
      [t('users.user'), (u) => html`<${Link} to=${`${HOME}/users/${u.id}`}>${userLabel(u)}</${Link}>`],
      [t('orgs.roles'), (u) => (u.organizationRoles ?? []).map((r) => r.name).join(', ')],
      [t('actions'), (u) => html`<${DangerButton} label=${t('remove')} question=${t('orgs.removeMember', { name: userLabel(u) })} onError=${setError}
          fn=${async () => { await api('DELETE', `/organizations/${eid}/users/${encodeURIComponent(u.id)}`); members.reload(); }} />`],
    ]} />
    <div class="card">
      <${Picker} label=${t('nav.users')} path="/users" show=${userLabel} button=${t('orgs.addMember')}
        onPick=${async (x) => { await api('POST', `/organizations/${eid}/users`, { userIds: [x] }); members.reload(); }} />
    </div>
    ${members.rows.length > 0 && orgRoles.length > 0 && html`<form class="card" onSubmit=${grant.run} aria-labelledby="grant">
      <h2 id="grant">${t('orgs.giveRole')}</h2>
      <${Select} label=${t('orgs.member')} value=${member} onChange=${setMember} options=${members.rows.map((u) => [u.id, userLabel(u)])} />
      <${Select} label=${t('orgs.role')} value=${orgRole} onChange=${setOrgRole} options=${orgRoles.map((r) => [r.id, r.name])} />
      <${ErrorBox} error=${grant.error} />
      <div class="row"><button type="submit" disabled=${grant.busy}>${t('roles.assign')}</button></div>
    </form>`}
    <${Invitations} orgId=${id} orgRoles=${orgRoles} />
    <${JitDomains} orgId=${id} />
    <div class="card"><h2>${t('dangerZone')}</h2>
      <${DangerButton} label=${t('orgs.delete')} question=${t('orgs.deleteQuestion', { name: org.name })} onError=${setError}
        fn=${async () => { await api('DELETE', `/organizations/${eid}`); navigate(`${HOME}/organizations`); }} />
    </div>`;
}


function Invitations({ orgId, orgRoles }) {
  const list = useList(`/organization-invitations?organizationId=${encodeURIComponent(orgId)}`);
  const [invitee, setInvitee] = useState('');
  const [days, setDays] = useState('7');
  const [roleId, setRoleId] = useState('');
  const [error, setError] = useState(null);
  const add = useSubmit(async () => {
    await api('POST', '/organization-invitations', {
      organizationId: orgId, invitee, expiresAt: Date.now() + Number(days) * 86400000,
      organizationRoleIds: roleId ? [roleId] : [],
    });
    setInvitee('');
    list.reload();
  });
  return html`<div class="card">
    <h2>${t('orgs.invitations')}</h2>
    <${ErrorBox} error=${error} />
    <${Table} list=${list} caption=${t('orgs.invitations')} columns=${[
      [t('users.email'), (i) => i.invitee],
      [t('users.status'), (i) => i.status],
      [t('apps.expires'), (i) => when(i.expiresAt)],
      [t('actions'), (i) => (i.status === 'Pending' ? html`<${DangerButton} label=${t('orgs.revoke')} question=${t('orgs.revokeQuestion', { name: i.invitee })} onError=${setError}
          fn=${async () => { await api('PUT', `/organization-invitations/${encodeURIComponent(i.id)}/status`, { status: 'Revoked' }); list.reload(); }} />` : '')],
    ]} />
    <form onSubmit=${add.run}>
      <${Field} label=${t('orgs.invitee')} type="email" value=${invitee} onInput=${setInvitee} required />
      <${Field} label=${t('orgs.validDays')} type="number" value=${days} onInput=${setDays} min="1" max="365" />
      <${Select} label=${t('orgs.role')} value=${roleId} onChange=${setRoleId} options=${[['', '—'], ...orgRoles.map((r) => [r.id, r.name])]} />
      <p class="muted">${t('orgs.inviteHint')}</p>
      <${ErrorBox} error=${add.error} />
      <div class="row"><button type="submit" disabled=${add.busy}>${t('orgs.invite')}</button></div>
    </form>
  </div>`;
}

// Just-in-time provisioning: users signing up with these email domains join the organization.
function JitDomains({ orgId }) {
  const eid = encodeURIComponent(orgId);
  const list = useList(`/organizations/${eid}/jit/email-domains`, { paged: false });
  const [domain, setDomain] = useState('');
  const [error, setError] = useState(null);
  const add = useSubmit(async () => {
    await api('POST', `/organizations/${eid}/jit/email-domains`, { emailDomain: domain });
    setDomain('');
    list.reload();
  });
  return html`<div class="card">
    <h2>${t('orgs.jit')}</h2>
    <p class="muted">${t('orgs.jitHint')}</p>
    <${ErrorBox} error=${error} />
    <${Table} list=${list} caption=${t('orgs.jit')} columns=${[
      [t('orgs.domain'), (d) => d.emailDomain],
      [t('actions'), (d) => html`<${DangerButton} label=${t('remove')} question=${t('roles.removeMember', { name: d.emailDomain })} onError=${setError}
          fn=${async () => { await api('DELETE', `/organizations/${eid}/jit/email-domains/${encodeURIComponent(d.emailDomain)}`); list.reload(); }} />`],
    ]} />
    <form onSubmit=${add.run}>
      <${Field} label=${t('orgs.domain')} value=${domain} onInput=${setDomain} required placeholder="example.com" />
      <${ErrorBox} error=${add.error} />
      <div class="row"><button type="submit" disabled=${add.busy}>${t('add')}</button></div>
    </form>
  </div>`;
}

// The organization template: the roles and permissions every organization shares.
function OrgTemplate() {
  const roles = useList('/organization-roles', { paged: false });
  const scopes = useList('/organization-scopes', { paged: false });
  const [roleName, setRoleName] = useState('');
  const [scopeName, setScopeName] = useState('');
  const [roleId, setRoleId] = useState('');
  const [scopeId, setScopeId] = useState('');
  const [error, setError] = useState(null);
  const addRole = useSubmit(async () => {
    await api('POST', '/organization-roles', { name: roleName });
    setRoleName('');
    roles.reload();
  });
  const addScope = useSubmit(async () => {
    await api('POST', '/organization-scopes', { name: scopeName });
    setScopeName('');
    scopes.reload();
  });
  const grant = useSubmit(async () => {
    await api('POST', `/organization-roles/${encodeURIComponent(roleId || roles.rows[0]?.id)}/scopes`, { organizationScopeIds: [scopeId || scopes.rows[0]?.id] });
    roles.reload();
  });
  return html`<h1>${t('nav.orgTemplate')}</h1>
    <p class="muted">${t('orgt.hint')}</p>
    <${ErrorBox} error=${error} />
    <h2>${t('orgt.roles')}</h2>
    <${Table} list=${roles} caption=${t('orgt.roles')} columns=${[
      [t('name'), (r) => r.name],
      [t('type'), (r) => t(`roles.type.${r.type ?? 'User'}`)],
      [t('res.permissions'), (r) => (r.scopes ?? []).map((x) => x.name).join(', ')],
      [t('actions'), (r) => html`<${DangerButton} label=${t('delete')} question=${t('roles.deleteQuestion', { name: r.name })} onError=${setError}
          fn=${async () => { await api('DELETE', `/organization-roles/${encodeURIComponent(r.id)}`); roles.reload(); }} />`],
    ]} />
    <form class="card" onSubmit=${addRole.run}>
      <${Field} label=${t('orgt.roleName')} value=${roleName} onInput=${setRoleName} required />
      <${ErrorBox} error=${addRole.error} />
      <div class="row"><button type="submit" disabled=${addRole.busy}>${t('orgt.addRole')}</button></div>
    </form>
    <h2>${t('orgt.scopes')}</h2>
    <${Table} list=${scopes} caption=${t('orgt.scopes')} columns=${[
      [t('name'), (x) => html`<code>${x.name}</code>`],
      [t('actions'), (x) => html`<${DangerButton} label=${t('delete')} question=${t('res.deleteScope', { name: x.name })} onError=${setError}
          fn=${async () => { await api('DELETE', `/organization-scopes/${encodeURIComponent(x.id)}`); scopes.reload(); roles.reload(); }} />`],
    ]} />
    <form class="card" onSubmit=${addScope.run}>
      <${Field} label=${t('orgt.scopeName')} hint=${t('res.permissionHint')} value=${scopeName} onInput=${setScopeName} required />
      <${ErrorBox} error=${addScope.error} />
      <div class="row"><button type="submit" disabled=${addScope.busy}>${t('orgt.addScope')}</button></div>
    </form>
    ${roles.rows.length > 0 && scopes.rows.length > 0 && html`<form class="card" onSubmit=${grant.run} aria-labelledby="orgt-grant">
      <h2 id="orgt-grant">${t('orgt.grant')}</h2>
      <${Select} label=${t('orgs.role')} value=${roleId} onChange=${setRoleId} options=${roles.rows.map((r) => [r.id, r.name])} />
      <${Select} label=${t('roles.permission')} value=${scopeId} onChange=${setScopeId} options=${scopes.rows.map((x) => [x.id, x.name])} />
      <${ErrorBox} error=${grant.error} />
      <div class="row"><button type="submit" disabled=${grant.busy}>${t('roles.addPermission')}</button></div>
    </form>`}`;
}

// ---- connectors: the factories this node loaded, the tenant's connectors, forms from schemas ----

const MASK = '********';
const i18n = (text) => (text && typeof text === 'object' ? text[lang] ?? text.en ?? '' : text ?? '');

// The form of a factory's formItems; confidential values never come back (the API answers the
// mask): an empty confidential field keeps the stored value.
function ConfigForm({ items, config, setConfig, editing }) {
  const set = (k) => (v) => setConfig({ ...config, [k]: v });
  return items.map((it) => {
    const label = `${it.label || it.key}${it.required ? '' : ` (${t('optional')})`}`;
    const hint = [it.description, it.isConfidential && editing ? t('conn.keepSecret') : null].filter(Boolean).join(' ');
    if (it.type === 'Switch') {
      const id = `cfg-${it.key}`;
      return html`<div class="row"><input id=${id} type="checkbox" checked=${config[it.key] === true}
        onChange=${(e) => set(it.key)(e.target.checked)} /><label class="check" for=${id}>${label}</label></div>`;
    }
    const type = it.isConfidential ? 'password' : it.type === 'Number' ? 'number' : it.type === 'MultilineText' || it.type === 'Json' ? 'textarea' : 'text';
    return html`<${Field} label=${label} type=${type} hint=${hint || undefined} value=${config[it.key] ?? ''}
      onInput=${set(it.key)} required=${it.required && !(editing && it.isConfidential)} autocomplete="off" />`;
  });
}

// What the form holds, as the API takes it (numbers, JSON, the mask for an untouched secret).
function configBody(items, config, editing) {
  const out = {};
  for (const it of items) {
    let v = config[it.key];
    if (it.isConfidential && editing && (v === undefined || v === '')) v = MASK;
    if (v === undefined || v === '') continue;
    if (it.type === 'Number') v = Number(v);
    if (it.type === 'Json' && typeof v === 'string') {
      try { v = JSON.parse(v); } catch { throw new Error(`${it.label || it.key}: ${t('users.badJson')}`); }
    }
    out[it.key] = v;
  }
  return out;
}

function formDefaults(items, stored = {}) {
  const c = {};
  for (const it of items) {
    let v = stored[it.key] ?? it.defaultValue;
    if (it.isConfidential) v = ''; // never shown back
    if (it.type === 'Json' && v !== undefined && typeof v !== 'string') v = JSON.stringify(v, null, 2);
    if (v !== undefined) c[it.key] = v;
  }
  return c;
}

function Connectors() {
  const factories = useList('/connector-factories', { paged: false });
  const list = useList('/connectors', { paged: false });
  const [factoryId, setFactoryId] = useState('');
  const factory = factories.rows.find((f) => f.id === factoryId) ?? factories.rows[0];
  const [config, setConfig] = useState({});
  useEffect(() => setConfig(factory ? formDefaults(factory.formItems) : {}), [factory?.id]);
  const create = useSubmit(async () => {
    const { data } = await api('POST', '/connectors', { connectorId: factory.id, config: configBody(factory.formItems, config, false) });
    navigate(`${HOME}/connectors/${data.id}`);
  });
  return html`<h1>${t('nav.connectors')}</h1>
    <h2>${t('conn.factories')}</h2>
    <p class="muted">${t('conn.factoriesHint')}</p>
    <${Table} list=${factories} caption=${t('conn.factories')} columns=${[
      [t('name'), (f) => i18n(f.name)],
      ['ID', (f) => html`<code>${f.id}</code>`],
      [t('type'), (f) => f.type],
      [t('conn.version'), (f) => f.version],
      ['ABI', (f) => f.abiVersion],
      ['SHA-256', (f) => html`<code class="hash">${f.sha256}</code>`],
    ]} />
    <h2>${t('conn.ofTenant')}</h2>
    <${Table} list=${list} caption=${t('conn.ofTenant')} columns=${[
      [t('name'), (c) => html`<${Link} to=${`${HOME}/connectors/${c.id}`}>${i18n(c.name)}</${Link}>`],
      [t('conn.factory'), (c) => html`<code>${c.connectorId}</code>`],
      [t('type'), (c) => c.type],
    ]} />
    ${factory && html`<form class="card" onSubmit=${create.run} aria-labelledby="new-conn">
      <h2 id="new-conn">${t('conn.create')}</h2>
      <${Select} label=${t('conn.factory')} value=${factory.id} onChange=${setFactoryId}
        options=${factories.rows.map((f) => [f.id, `${i18n(f.name)} (${f.id} ${f.version})`])} />
      <${ConfigForm} items=${factory.formItems} config=${config} setConfig=${setConfig} editing=${false} />
      <${ErrorBox} error=${create.error} />
      <div class="row"><button type="submit" disabled=${create.busy}>${t('create')}</button></div>
    </form>`}`;
}

function ConnectorDetail({ id }) {
  const eid = encodeURIComponent(id);
  const [conn, setConn] = useState(null);
  const [config, setConfig] = useState({});
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [targets, setTargets] = useState(null);
  useEffect(() => {
    api('GET', `/connectors/${eid}`).then(({ data }) => {
      setConn(data);
      setConfig(formDefaults(data.formItems ?? [], data.config ?? {}));
    }).catch((e) => setError(errorText(e)));
    api('GET', '/sign-in-exp').then(({ data }) => setTargets(data.socialSignInConnectorTargets ?? [])).catch(() => {});
  }, [id]);
  const save = useSubmit(async () => {
    await api('PATCH', `/connectors/${eid}`, { config: configBody(conn.formItems ?? [], config, true) });
    setNotice(t('saved'));
  });
  const enabled = conn && targets && targets.includes(conn.target);
  const toggle = useSubmit(async () => {
    const next = enabled ? targets.filter((x) => x !== conn.target) : [...targets, conn.target];
    const { data } = await api('PATCH', '/sign-in-exp', { socialSignInConnectorTargets: next });
    setTargets(data.socialSignInConnectorTargets ?? next);
    setNotice(t('saved'));
  });
  if (error) return html`<h1>${t('nav.connectors')}</h1><${ErrorBox} error=${error} />`;
  if (!conn) return html`<${Loading} />`;
  return html`<h1>${i18n(conn.name)}</h1>
    <p><${Link} to=${`${HOME}/connectors`}>← ${t('nav.connectors')}</${Link}></p>
    <${Notice} text=${notice} />
    <div class="card"><dl>
      <dt>ID</dt><dd><code>${conn.id}</code></dd>
      <dt>${t('conn.factory')}</dt><dd><code>${conn.connectorId}</code></dd>
      <dt>${t('type')}</dt><dd>${conn.type}</dd>
      ${conn.type === 'Social' && html`<dt>${t('conn.callback')}</dt><dd><code>${ENDPOINT}/callback/${conn.id}</code></dd>`}
    </dl></div>
    ${conn.type === 'Social' && targets && html`<div class="card">
      <h2>${t('conn.signInPage')}</h2>
      <p>${enabled ? t('conn.shown') : t('conn.hidden')}</p>
      <${ErrorBox} error=${toggle.error} />
      <button onClick=${toggle.run} disabled=${toggle.busy}>${enabled ? t('conn.hide') : t('conn.show')}</button>
    </div>`}
    <form class="card" onSubmit=${save.run} aria-labelledby="cfg">
      <h2 id="cfg">${t('conn.config')}</h2>
      <${ConfigForm} items=${conn.formItems ?? []} config=${config} setConfig=${setConfig} editing=${true} />
      <${ErrorBox} error=${save.error} />
      <div class="row"><button type="submit" disabled=${save.busy}>${t('save')}</button></div>
    </form>
    <div class="card"><h2>${t('dangerZone')}</h2>
      <${DangerButton} label=${t('conn.delete')} question=${t('conn.deleteQuestion', { name: i18n(conn.name) })} onError=${setError}
        fn=${async () => { await api('DELETE', `/connectors/${eid}`); navigate(`${HOME}/connectors`); }} />
    </div>`;
}


// ---- the audit log (/api/logs) ----

// Logto's log keys the console offers as filters (any other key can be typed).
const LOG_KEYS = [
  'Interaction.SignIn.Submit', 'Interaction.Register.Submit', 'Interaction.ForgotPassword.Submit',
  'Interaction.SignIn.Verification.Password.Submit', 'Interaction.Create',
  'ExchangeTokenBy.AuthorizationCode', 'ExchangeTokenBy.RefreshToken', 'ExchangeTokenBy.ClientCredentials',
  'RevokeToken', 'User.Created', 'User.Deleted', 'User.Data.Updated', 'User.SuspensionStatus.Updated',
  'User.Sessions.Ended', 'ManagementApi.Change',
];

const result = (p) => (p?.result === 'Error' ? t('logs.error') : p?.result === 'Success' ? t('logs.success') : '—');
const userLink = (userId) => (userId ? html`<${Link} to=${`${HOME}/users/${encodeURIComponent(userId)}`}><code>${userId}</code></${Link}>` : '—');

// The columns of a list of log entries (the audit log, a user's logs, the dashboard).
const logColumns = ({ withUser = true } = {}) => [
  [t('logs.time'), (l) => html`<${Link} to=${`${HOME}/logs/${encodeURIComponent(l.id)}`}>${when(l.createdAt)}</${Link}>`],
  [t('logs.key'), (l) => html`<code>${l.key}</code>`],
  [t('logs.result'), (l) => result(l.payload)],
  ...(withUser ? [[t('logs.user'), (l) => userLink(l.payload?.userId)]] : []),
  [t('logs.application'), (l) => (l.payload?.applicationId ? html`<code>${l.payload.applicationId}</code>` : '—')],
  [t('logs.ip'), (l) => l.payload?.ip ?? '—'],
];

// datetime-local text (the browser's time zone) to epoch milliseconds; '' stays ''.
const epochMs = (local) => (local ? String(new Date(local).getTime()) : '');

function Logs() {
  const empty = { logKey: '', userId: '', applicationId: '', from: '', to: '' };
  const [form, setForm] = useState(empty);
  const [applied, setApplied] = useState(empty);
  const q = new URLSearchParams();
  for (const k of ['logKey', 'userId', 'applicationId']) if (applied[k].trim()) q.set(k, applied[k].trim());
  if (applied.from) q.set('startTime', epochMs(applied.from));
  if (applied.to) q.set('endTime', epochMs(applied.to));
  const list = useList(`/logs${q.toString() ? `?${q}` : ''}`);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  return html`<h1>${t('nav.logs')}</h1>
    <form class="card" role="search" aria-labelledby="log-filters" onSubmit=${(e) => { e.preventDefault(); setApplied(form); }}>
      <h2 id="log-filters">${t('logs.filters')}</h2>
      <${Field} label=${t('logs.key')} value=${form.logKey} onInput=${set('logKey')} list="log-keys" autocomplete="off" hint=${t('logs.keyHint')} />
      <datalist id="log-keys">${LOG_KEYS.map((k) => html`<option value=${k}></option>`)}</datalist>
      <${Field} label=${t('logs.userId')} value=${form.userId} onInput=${set('userId')} autocomplete="off" />
      <${Field} label=${t('logs.applicationId')} value=${form.applicationId} onInput=${set('applicationId')} autocomplete="off" />
      <${Field} label=${t('logs.from')} type="datetime-local" value=${form.from} onInput=${set('from')} />
      <${Field} label=${t('logs.to')} type="datetime-local" value=${form.to} onInput=${set('to')} />
      <div class="row">
        <button type="submit">${t('logs.apply')}</button>
        <button type="button" class="secondary" onClick=${() => { setForm(empty); setApplied(empty); }}>${t('logs.clear')}</button>
        <button type="button" class="secondary" onClick=${list.reload}>${t('refresh')}</button>
      </div>
    </form>
    <${Table} list=${list} caption=${t('nav.logs')} empty=${t('logs.none')} columns=${logColumns()} />`;
}

function LogDetail({ id }) {
  const [entry, setEntry] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api('GET', `/logs/${encodeURIComponent(id)}`).then(({ data }) => setEntry(data)).catch((e) => setError(errorText(e)));
  }, [id]);
  const back = html`<p><${Link} to=${`${HOME}/logs`}>← ${t('nav.logs')}</${Link}></p>`;
  if (error) return html`<h1>${t('logs.entry')}</h1>${back}<${ErrorBox} error=${error} />`;
  if (!entry) return html`<${Loading} />`;
  const p = entry.payload ?? {};
  return html`<h1>${entry.key}</h1>
    ${back}
    <div class="card"><dl>
      <dt>ID</dt><dd><code>${entry.id}</code></dd>
      <dt>${t('logs.time')}</dt><dd>${when(entry.createdAt)}</dd>
      <dt>${t('logs.result')}</dt><dd>${result(p)}</dd>
      <dt>${t('logs.user')}</dt><dd>${userLink(p.userId)}</dd>
      <dt>${t('logs.application')}</dt><dd>${p.applicationId ? html`<code>${p.applicationId}</code>` : '—'}</dd>
      <dt>${t('logs.ip')}</dt><dd>${p.ip ?? '—'}</dd>
      <dt>${t('logs.userAgent')}</dt><dd>${p.userAgent ?? '—'}</dd>
      ${p.error && html`<dt>${t('logs.error')}</dt><dd><code>${JSON.stringify(p.error)}</code></dd>`}
    </dl></div>
    <h2>${t('logs.payload')}</h2>
    <pre tabindex="0" aria-label=${t('logs.payload')}><code>${JSON.stringify(p, null, 2)}</code></pre>`;
}

// The dashboard's recent sign-ins: the last submitted sign-in interactions.
function RecentSignIns() {
  const [state, setState] = useState({ rows: null, error: null });
  useEffect(() => {
    api('GET', '/logs?logKey=Interaction.SignIn.Submit&page=1&page_size=5')
      .then(({ data }) => setState({ rows: data ?? [], error: null }))
      .catch((e) => setState({ rows: [], error: errorText(e) }));
  }, []);
  const list = { loading: state.rows === null, error: state.error, rows: state.rows ?? [], total: state.rows?.length ?? 0, page: 1 };
  return html`<div class="card">
    <h2 id="recent-sign-ins">${t('dashboard.recentSignIns')}</h2>
    <${Table} list=${list} caption=${t('dashboard.recentSignIns')} empty=${t('dashboard.noSignIns')} columns=${[
      [t('logs.time'), (l) => html`<${Link} to=${`${HOME}/logs/${encodeURIComponent(l.id)}`}>${when(l.createdAt)}</${Link}>`],
      [t('logs.result'), (l) => result(l.payload)],
      [t('logs.user'), (l) => userLink(l.payload?.userId)],
      [t('logs.ip'), (l) => l.payload?.ip ?? '—'],
    ]} />
    <p><${Link} to=${`${HOME}/logs`}>${t('dashboard.allLogs')}</${Link}></p>
  </div>`;
}

// ---- webhooks (/api/hooks) ----

// Logto's hook events, in its order (core/mgmt/hooks.c accepts exactly these).
const HOOK_EVENTS = [
  'PostRegister', 'PostSignIn', 'PostResetPassword',
  'User.Created', 'User.Deleted', 'User.Data.Updated', 'User.SuspensionStatus.Updated',
  'Role.Created', 'Role.Deleted', 'Role.Data.Updated', 'Role.Scopes.Updated',
  'Scope.Created', 'Scope.Deleted', 'Scope.Data.Updated',
  'Organization.Created', 'Organization.Deleted', 'Organization.Data.Updated', 'Organization.Membership.Updated',
  'OrganizationRole.Created', 'OrganizationRole.Deleted', 'OrganizationRole.Data.Updated', 'OrganizationRole.Scopes.Updated',
  'OrganizationScope.Created', 'OrganizationScope.Deleted', 'OrganizationScope.Data.Updated',
  'Identifier.Lockout', 'Message.RateLimited',
];

const hookEvents = (h) => (h.events?.length ? h.events : h.event ? [h.event] : []);
const headersText = (headers) => Object.entries(headers ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n');

// "Name: value" lines to an object; a line without a colon is refused here, in the console's words.
function parseHeaders(text) {
  const out = {};
  for (const line of lines(text)) {
    const at = line.indexOf(':');
    if (at < 1) throw new Error(t('hooks.badHeader', { line }));
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

// The fields of a hook (create and edit); form is {name, events, url, headers, enabled}.
function HookFields({ form, setForm, idPrefix }) {
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  return html`
    <${Field} label=${t('name')} value=${form.name} onInput=${set('name')} required autocomplete="off" />
    <${Field} label=${t('hooks.url')} type="url" value=${form.url} onInput=${set('url')} required autocomplete="off" hint=${t('hooks.urlHint')} />
    <fieldset><legend>${t('hooks.events')}</legend>
      ${HOOK_EVENTS.map((ev) => html`<${Check} id=${`${idPrefix}-${ev}`} label=${ev} checked=${form.events.includes(ev)}
        onChange=${(on) => setForm({ ...form, events: on ? [...new Set([...form.events, ev])] : form.events.filter((x) => x !== ev) })} />`)}
    </fieldset>
    <${Field} label=${t('hooks.headers')} type="textarea" value=${form.headers} onInput=${set('headers')} hint=${t('hooks.headersHint')} />
    <${Check} id=${`${idPrefix}-enabled`} label=${t('hooks.enabled')} checked=${form.enabled} onChange=${set('enabled')} />`;
}

const hookBody = (form) => {
  if (form.events.length === 0) throw new Error(t('hooks.noEvents'));
  return { name: form.name, events: form.events, config: { url: form.url, headers: parseHeaders(form.headers) }, enabled: form.enabled };
};

const stats = (h) => (h.executionStats ? t('hooks.statsValue', { ok: h.executionStats.successCount, all: h.executionStats.requestCount }) : '—');

function Hooks() {
  const list = useList('/hooks?includeExecutionStats=true');
  const [form, setForm] = useState({ name: '', events: [], url: '', headers: '', enabled: true });
  const create = useSubmit(async () => {
    const { data } = await api('POST', '/hooks', hookBody(form));
    navigate(`${HOME}/webhooks/${data.id}`);
  });
  return html`<h1>${t('nav.hooks')}</h1>
    <p class="muted">${t('hooks.intro')}</p>
    <${Table} list=${list} caption=${t('nav.hooks')} empty=${t('hooks.none')} columns=${[
      [t('name'), (h) => html`<${Link} to=${`${HOME}/webhooks/${h.id}`}>${h.name || h.id}</${Link}>`],
      [t('hooks.url'), (h) => html`<code>${h.config?.url}</code>`],
      [t('hooks.events'), (h) => hookEvents(h).join(', ')],
      [t('hooks.status'), (h) => (h.enabled ? t('hooks.on') : t('hooks.off'))],
      [t('hooks.stats'), stats],
    ]} />
    <form class="card" onSubmit=${create.run} aria-labelledby="new-hook">
      <h2 id="new-hook">${t('hooks.create')}</h2>
      <${HookFields} form=${form} setForm=${setForm} idPrefix="new-hook" />
      <${ErrorBox} error=${create.error} />
      <div class="row"><button type="submit" disabled=${create.busy}>${t('create')}</button></div>
    </form>`;
}

function HookDetail({ id }) {
  const eid = encodeURIComponent(id);
  const [hook, setHook] = useState(null);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [tick, setTick] = useState(0);
  const runs = useList(`/hooks/${eid}/recent-logs`);
  useEffect(() => {
    api('GET', `/hooks/${eid}?includeExecutionStats=true`).then(({ data }) => {
      setHook(data);
      setForm({ name: data.name ?? '', events: hookEvents(data), url: data.config?.url ?? '', headers: headersText(data.config?.headers), enabled: data.enabled });
    }).catch((e) => setError(errorText(e)));
  }, [id, tick]);
  const save = useSubmit(async () => {
    await api('PATCH', `/hooks/${eid}`, hookBody(form));
    setNotice(t('saved'));
    setTick((n) => n + 1);
  });
  const test = useSubmit(async () => {
    setNotice(null);
    await api('POST', `/hooks/${eid}/test`, { events: hookEvents(hook), config: hook.config });
    setNotice(t('hooks.testSent'));
  });
  if (error && !hook) return html`<h1>${t('nav.hooks')}</h1><${ErrorBox} error=${error} />`;
  if (!hook || !form) return html`<${Loading} />`;
  return html`<h1>${hook.name || hook.id}</h1>
    <p><${Link} to=${`${HOME}/webhooks`}>← ${t('nav.hooks')}</${Link}></p>
    <${Notice} text=${notice} />
    <${ErrorBox} error=${error} />
    <div class="card"><dl>
      <dt>ID</dt><dd><code>${hook.id}</code></dd>
      <dt>${t('created')}</dt><dd>${when(hook.createdAt)}</dd>
      <dt>${t('hooks.stats')}</dt><dd>${stats(hook)}</dd>
    </dl></div>
    <form class="card" onSubmit=${save.run} aria-labelledby="hook-settings">
      <h2 id="hook-settings">${t('hooks.settings')}</h2>
      <${HookFields} form=${form} setForm=${setForm} idPrefix="hook" />
      <${ErrorBox} error=${save.error} />
      <div class="row"><button type="submit" disabled=${save.busy}>${t('save')}</button></div>
    </form>
    <div class="card">
      <h2 id="hook-key">${t('hooks.signingKey')}</h2>
      <p>${t('hooks.signingKeyHint')}</p>
      <p class="secret" data-testid="signing-key" aria-labelledby="hook-key">${hook.signingKey}</p>
      <div class="row"><${DangerButton} label=${t('hooks.rotate')} question=${t('hooks.rotateQuestion')} onError=${setError}
        fn=${async () => { const { data } = await api('PATCH', `/hooks/${eid}/signing-key`, {}); setHook({ ...hook, signingKey: data.signingKey }); setNotice(t('hooks.rotated')); }} /></div>
    </div>
    <div class="card">
      <h2>${t('hooks.test')}</h2>
      <p>${t('hooks.testHint')}</p>
      <${ErrorBox} error=${test.error} />
      <div class="row"><button disabled=${test.busy} onClick=${test.run}>${t('hooks.sendTest')}</button></div>
    </div>
    <div class="card">
      <h2>${t('hooks.recent')}</h2>
      <p class="muted">${t('hooks.recentHint')}</p>
      <div class="row"><button class="secondary" onClick=${() => { runs.reload(); setTick((n) => n + 1); }}>${t('refresh')}</button></div>
      <${Table} list=${runs} caption=${t('hooks.recent')} empty=${t('hooks.noRuns')} columns=${[
        [t('logs.time'), (l) => when(l.createdAt)],
        [t('hooks.event'), (l) => html`<code>${l.key.replace(/^TriggerHook\./, '')}</code>`],
        [t('logs.result'), (l) => result(l.payload)],
        [t('hooks.response'), (l) => (l.payload?.response?.statusCode ? `HTTP ${l.payload.response.statusCode}` : (l.payload?.error ? String(l.payload.error.message ?? l.payload.error) : '—'))],
      ]} />
    </div>
    <div class="card"><h2>${t('dangerZone')}</h2>
      <${DangerButton} label=${t('hooks.delete')} question=${t('hooks.deleteQuestion', { name: hook.name || hook.id })} onError=${setError}
        fn=${async () => { await api('DELETE', `/hooks/${eid}`); navigate(`${HOME}/webhooks`); }} />
    </div>`;
}

// ---- a user's MFA factors, sessions and logs (parts of the user's page) ----

// Errors show in the card (the rest of the user's page stays usable).
function UserMfa({ eid, onNotice }) {
  const list = useList(`/users/${eid}/mfa-verifications`, { paged: false });
  const [error, onError] = useState(null);
  const removeAll = async () => {
    onError(null);
    // BackupCode last: backup codes only back up another factor.
    const order = [...list.rows].sort((a, b) => (a.type === 'BackupCode') - (b.type === 'BackupCode'));
    for (const f of order) await api('DELETE', `/users/${eid}/mfa-verifications/${encodeURIComponent(f.id)}`);
    list.reload();
    onNotice(t('mfa.resetDone'));
  };
  return html`<div class="card">
    <h2>${t('mfa.title')}</h2>
    <p class="muted">${t('mfa.hint')}</p>
    <${Table} list=${list} caption=${t('mfa.title')} empty=${t('mfa.none')} columns=${[
      [t('type'), (f) => t(`mfa.factor.${f.type}`)],
      [t('mfa.detail'), (f) => (f.type === 'BackupCode' ? t('mfa.remain', { n: f.remainCodes ?? 0 }) : f.name || f.agent || '—')],
      [t('created'), (f) => when(f.createdAt)],
      [t('actions'), (f) => html`<${DangerButton} label=${t('remove')} question=${t('mfa.removeQuestion', { type: t(`mfa.factor.${f.type}`) })} onError=${onError}
        fn=${async () => { onError(null); await api('DELETE', `/users/${eid}/mfa-verifications/${encodeURIComponent(f.id)}`); list.reload(); onNotice(t('mfa.removed')); }} />`],
    ]} />
    <${ErrorBox} error=${error} />
    ${list.rows.length > 0 && html`<div class="row"><${DangerButton} label=${t('mfa.reset')} question=${t('mfa.resetQuestion')} onError=${onError} fn=${removeAll} /></div>`}
  </div>`;
}

function UserSessions({ eid, onNotice }) {
  const [error, onError] = useState(null);
  return html`<div class="card">
    <h2>${t('sessions.title')}</h2>
    <p>${t('sessions.hint')}</p>
    <${ErrorBox} error=${error} />
    <div class="row"><${DangerButton} label=${t('sessions.signOutEverywhere')} question=${t('sessions.question')} onError=${onError}
      fn=${async () => { onError(null); await api('DELETE', `/users/${eid}/sessions`); onNotice(t('sessions.done')); }} /></div>
  </div>`;
}

function UserLogs({ eid }) {
  const list = useList(`/users/${eid}/logs`);
  return html`<div class="card">
    <h2>${t('nav.logs')}</h2>
    <div class="row"><button class="secondary" onClick=${list.reload}>${t('refresh')}</button></div>
    <${Table} list=${list} caption=${t('nav.logs')} empty=${t('logs.none')} columns=${logColumns({ withUser: false })} />
  </div>`;
}

// ---- sign-in experience ----

const IDENTIFIERS = ['username', 'email', 'phone'];
const MFA_FACTORS = ['Totp', 'WebAuthn', 'BackupCode'];
const MFA_POLICIES = ['UserControlled', 'PromptAtSignInAndSignUp', 'PromptOnlyAtSignIn', 'Mandatory', 'NoPrompt'];

const DEFAULT_COLOR = { primaryColor: '#6139F6', isDarkModeEnabled: false, darkPrimaryColor: '#8C70FF' };

// Text on a button of the brand colour: white or black, whichever contrasts more (WCAG 2
// luminance), as the hosted page chooses (core/ui/sign-in.js); either way at least 4.5:1.
function textOn(hex) {
  const h = hex.length === 4 ? hex.slice(1).replace(/./g, '$&$&') : hex.slice(1);
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [r, g, b] = [0, 2, 4].map((i) => lin(parseInt(h.slice(i, i + 2), 16) / 255));
  const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return 1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? '#ffffff' : '#000000';
}

// What the hosted page will offer, drawn from the form as it stands (not saved yet): its logo,
// its buttons in the primary colour (set through CSSOM, which the console's CSP allows).
function SignInPreview({ sie, connectors, previewLang }) {
  const tt = (en, es) => (previewLang === 'es' ? es : en);
  const brand = { '--brand': sie.color.primaryColor, '--brand-text': textOn(sie.color.primaryColor) };
  const methods = sie.signIn.methods;
  const idLabel = methods.map((m) => ({ username: tt('Username', 'Nombre de usuario'), email: tt('Email', 'Correo electrónico'), phone: tt('Phone', 'Teléfono') })[m.identifier]).join(tt(' or ', ' o '));
  const social = connectors.filter((c) => c.type === 'Social' && sie.socialSignInConnectorTargets.includes(c.target));
  const canSignIn = sie.signInMode !== 'Register';
  return html`<div class="preview" aria-label=${t('sie.preview')} role="region" lang=${previewLang} style=${brand}>
    ${sie.branding.logoUrl && html`<img class="preview-logo" src=${sie.branding.logoUrl} alt=${t('sie.logoAlt')} />`}
    <p class="preview-title">${canSignIn ? tt('Sign in', 'Iniciar sesión') : tt('Create account', 'Crear cuenta')}</p>
    ${social.map((c) => html`<p class="preview-button">${tt('Continue with', 'Continuar con')} ${i18n(c.name)}</p>`)}
    ${canSignIn && methods.length > 0 && html`<p class="preview-field">${idLabel}</p>`}
    ${canSignIn && methods.some((m) => m.password) && html`<p class="preview-field">${tt('Password', 'Contraseña')}</p>`}
    ${canSignIn && methods.some((m) => m.verificationCode) && html`<p class="preview-link">${tt('Sign in with a code instead', 'Iniciar sesión con un código')}</p>`}
    ${canSignIn && sie.passkeySignIn.enabled && sie.passkeySignIn.showPasskeyButton && html`<p class="preview-button">${tt('Sign in with a passkey', 'Iniciar sesión con una llave de acceso')}</p>`}
    ${canSignIn && sie.mfa.factors.length > 0 && html`<p class="muted">${sie.mfa.policy === 'Mandatory' ? tt('Then, for everyone: a second step', 'Después, para todos: un segundo paso') : tt('Then, for people who enrolled one: a second step', 'Después, para quien registró uno: un segundo paso')} (${sie.mfa.factors.map((f) => ({ Totp: tt('authenticator app', 'aplicación de autenticación'), WebAuthn: tt('passkey or security key', 'llave de acceso o de seguridad'), BackupCode: tt('backup code', 'código de respaldo') })[f]).join(tt(' or ', ' o '))})</p>`}
    ${canSignIn && sie.forgotPasswordMethods.length > 0 && html`<p class="preview-link">${tt('Forgot your password?', '¿Olvidó su contraseña?')}</p>`}
    ${canSignIn && html`<p class="preview-button preview-primary">${tt('Continue', 'Continuar')}</p>`}
    ${sie.signInMode !== 'SignIn' && html`<p class="preview-link">${tt('Create account', 'Crear cuenta')}</p>`}
  </div>`;
}

function SignInExperience() {
  const [sie, setSie] = useState(null);
  const [connectors, setConnectors] = useState([]);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  useEffect(() => {
    api('GET', '/sign-in-exp').then(({ data }) => setSie({
      signInMode: data.signInMode,
      signIn: { methods: data.signIn?.methods ?? [] },
      signUp: { identifiers: data.signUp?.identifiers ?? [], password: data.signUp?.password ?? true, verify: data.signUp?.verify ?? false },
      forgotPasswordMethods: data.forgotPasswordMethods ?? [],
      languageInfo: { autoDetect: data.languageInfo?.autoDetect ?? true, fallbackLanguage: data.languageInfo?.fallbackLanguage ?? 'en' },
      socialSignInConnectorTargets: data.socialSignInConnectorTargets ?? [],
      mfa: { factors: data.mfa?.factors ?? [], policy: data.mfa?.policy ?? 'UserControlled', organizationRequiredMfaPolicy: data.mfa?.organizationRequiredMfaPolicy ?? 'NoPrompt' },
      passkeySignIn: { enabled: !!data.passkeySignIn?.enabled, showPasskeyButton: !!data.passkeySignIn?.showPasskeyButton, allowAutofill: !!data.passkeySignIn?.allowAutofill },
      branding: data.branding ?? {},
      color: { ...DEFAULT_COLOR, ...data.color },
    })).catch((e) => setError(errorText(e)));
    api('GET', '/connectors').then(({ data }) => setConnectors(data ?? [])).catch(() => {});
  }, []);
  const save = useSubmit(async () => {
    // Branding: an emptied URL is left out (the API stores what it is sent, favicons included).
    const branding = Object.fromEntries(Object.entries(sie.branding).filter(([, v]) => v));
    const { data } = await api('PATCH', '/sign-in-exp', { ...sie, branding });
    setSie({ ...sie, signInMode: data.signInMode });
    setNotice(t('saved'));
  });
  if (error) return html`<h1>${t('nav.sie')}</h1><${ErrorBox} error=${error} />`;
  if (!sie) return html`<${Loading} />`;
  const method = (id) => sie.signIn.methods.find((m) => m.identifier === id);
  const setMethod = (id, patch) => {
    let methods = sie.signIn.methods;
    if (patch === null) methods = methods.filter((m) => m.identifier !== id);
    else if (method(id)) methods = methods.map((m) => (m.identifier === id ? { ...m, ...patch } : m));
    else methods = [...methods, { identifier: id, password: true, verificationCode: false, isPasswordPrimary: true, ...patch }];
    setSie({ ...sie, signIn: { methods } });
  };
  const toggleIn = (list, v, on) => (on ? [...new Set([...list, v])] : list.filter((x) => x !== v));
  const check = (id, label, checked, onChange, disabled) => html`<${Check} id=${id} label=${label} checked=${checked} onChange=${onChange} disabled=${disabled} />`;
  const social = connectors.filter((c) => c.type === 'Social');
  return html`<h1>${t('nav.sie')}</h1>
    <${Notice} text=${notice} />
    <div class="split">
    <form class="card" onSubmit=${save.run} aria-labelledby="sie-form">
      <h2 id="sie-form">${t('sie.settings')}</h2>
      <${Select} label=${t('sie.mode')} value=${sie.signInMode} onChange=${(v) => setSie({ ...sie, signInMode: v })}
        options=${[['SignInAndRegister', t('sie.mode.both')], ['SignIn', t('sie.mode.signIn')], ['Register', t('sie.mode.register')]]} />
      <fieldset><legend>${t('sie.signIn')}</legend>
        ${IDENTIFIERS.map((id) => html`<div>
          ${check(`m-${id}`, t(`sie.id.${id}`), !!method(id), (on) => setMethod(id, on ? {} : null))}
          ${method(id) && html`<div class="indent">
            ${check(`m-${id}-pw`, t('sie.withPassword'), method(id).password, (on) => setMethod(id, { password: on }))}
            ${id !== 'username' && check(`m-${id}-code`, t('sie.withCode'), method(id).verificationCode, (on) => setMethod(id, { verificationCode: on }))}
          </div>`}
        </div>`)}
      </fieldset>
      <fieldset><legend>${t('sie.signUp')}</legend>
        ${IDENTIFIERS.map((id) => check(`u-${id}`, t(`sie.id.${id}`), sie.signUp.identifiers.includes(id),
          (on) => setSie({ ...sie, signUp: { ...sie.signUp, identifiers: toggleIn(sie.signUp.identifiers, id, on) } })))}
        ${check('u-pw', t('sie.signUpPassword'), sie.signUp.password, (on) => setSie({ ...sie, signUp: { ...sie.signUp, password: on } }))}
        ${check('u-verify', t('sie.signUpVerify'), sie.signUp.verify, (on) => setSie({ ...sie, signUp: { ...sie.signUp, verify: on } }))}
      </fieldset>
      <fieldset><legend>${t('sie.forgot')}</legend>
        ${[['EmailVerificationCode', t('sie.id.email')], ['PhoneVerificationCode', t('sie.id.phone')]].map(([v, l]) => check(`f-${v}`, l, sie.forgotPasswordMethods.includes(v),
          (on) => setSie({ ...sie, forgotPasswordMethods: toggleIn(sie.forgotPasswordMethods, v, on) })))}
      </fieldset>
      <fieldset><legend>${t('sie.social')}</legend>
        ${social.length === 0 && html`<p class="muted">${t('sie.noSocial')}</p>`}
        ${social.map((c) => check(`s-${c.target}`, i18n(c.name), sie.socialSignInConnectorTargets.includes(c.target),
          (on) => setSie({ ...sie, socialSignInConnectorTargets: toggleIn(sie.socialSignInConnectorTargets, c.target, on) })))}
      </fieldset>
      <fieldset><legend>${t('sie.mfa')}</legend>
        ${MFA_FACTORS.map((f) => check(`mfa-${f}`, t(`mfa.factor.${f}`), sie.mfa.factors.includes(f),
          (on) => setSie({ ...sie, mfa: { ...sie.mfa, factors: toggleIn(sie.mfa.factors, f, on) } })))}
        <${Select} label=${t('sie.mfaPolicy')} value=${sie.mfa.policy} onChange=${(v) => setSie({ ...sie, mfa: { ...sie.mfa, policy: v } })}
          options=${MFA_POLICIES.map((p) => [p, t(`sie.mfaPolicy.${p}`)])} />
        <${Select} label=${t('sie.orgMfa')} value=${sie.mfa.organizationRequiredMfaPolicy} onChange=${(v) => setSie({ ...sie, mfa: { ...sie.mfa, organizationRequiredMfaPolicy: v } })}
          options=${[['NoPrompt', t('sie.orgMfa.NoPrompt')], ['Mandatory', t('sie.orgMfa.Mandatory')]]} />
      </fieldset>
      <fieldset><legend>${t('sie.passkey')}</legend>
        ${['enabled', 'showPasskeyButton', 'allowAutofill'].map((k) => check(`pk-${k}`, t(`sie.passkey.${k}`), sie.passkeySignIn[k],
          (on) => setSie({ ...sie, passkeySignIn: { ...sie.passkeySignIn, [k]: on } }), k !== 'enabled' && !sie.passkeySignIn.enabled))}
      </fieldset>
      <fieldset><legend>${t('sie.branding')}</legend>
        <${Field} label=${t('sie.logoUrl')} type="url" value=${sie.branding.logoUrl ?? ''} onInput=${(v) => setSie({ ...sie, branding: { ...sie.branding, logoUrl: v } })} autocomplete="off" />
        <${Field} label=${t('sie.darkLogoUrl')} type="url" value=${sie.branding.darkLogoUrl ?? ''} onInput=${(v) => setSie({ ...sie, branding: { ...sie.branding, darkLogoUrl: v } })} autocomplete="off" />
        <${Field} label=${t('sie.primaryColor')} type="color" value=${sie.color.primaryColor.toLowerCase()} onInput=${(v) => setSie({ ...sie, color: { ...sie.color, primaryColor: v } })} />
        ${check('c-dark', t('sie.darkMode'), sie.color.isDarkModeEnabled, (on) => setSie({ ...sie, color: { ...sie.color, isDarkModeEnabled: on } }))}
        <${Field} label=${t('sie.darkPrimaryColor')} type="color" value=${sie.color.darkPrimaryColor.toLowerCase()} onInput=${(v) => setSie({ ...sie, color: { ...sie.color, darkPrimaryColor: v } })} disabled=${!sie.color.isDarkModeEnabled} />
        <p class="muted">${t('sie.brandingHint')}</p>
      </fieldset>
      <fieldset><legend>${t('language')}</legend>
        ${check('l-auto', t('sie.autoDetect'), sie.languageInfo.autoDetect, (on) => setSie({ ...sie, languageInfo: { ...sie.languageInfo, autoDetect: on } }))}
        <${Select} label=${t('sie.fallback')} value=${sie.languageInfo.fallbackLanguage} onChange=${(v) => setSie({ ...sie, languageInfo: { ...sie.languageInfo, fallbackLanguage: v } })}
          options=${[['en', 'English'], ['es', 'Español']]} />
      </fieldset>
      <${ErrorBox} error=${save.error} />
      <div class="row"><button type="submit" disabled=${save.busy}>${t('save')}</button></div>
    </form>
    <div class="card">
      <h2>${t('sie.preview')}</h2>
      <p class="muted">${t('sie.previewHint')}</p>
      <${SignInPreview} sie=${sie} connectors=${connectors} previewLang=${sie.languageInfo.autoDetect ? lang : sie.languageInfo.fallbackLanguage} />
    </div>
    </div>`;
}

// ---- signing keys ----

function SigningKeys() {
  const [keys, setKeys] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [alg, setAlg] = useState('EC');
  const [grace, setGrace] = useState('86400');
  const load = () => api('GET', '/configs/oidc/private-keys').then(({ data }) => setKeys(data)).catch((e) => setError(errorText(e)));
  useEffect(() => { load(); }, []);
  const rotate = async () => {
    setError(null);
    const { data } = await api('POST', '/configs/oidc/private-keys/rotate', { signingKeyAlgorithm: alg, gracePeriod: Number(grace) });
    setKeys(data);
    setNotice(t('keys.rotated'));
  };
  return html`<h1>${t('nav.keys')}</h1>
    <${Notice} text=${notice} />
    <${ErrorBox} error=${error} />
    ${!keys && !error && html`<${Loading} />`}
    ${keys && html`<table>
      <caption class="muted">${t('nav.keys')} (${keys.length})</caption>
      <thead><tr><th scope="col">${t('keys.state')}</th><th scope="col">ID (kid)</th><th scope="col">${t('keys.algorithm')}</th><th scope="col">${t('created')}</th><th scope="col">${t('keys.expires')}</th></tr></thead>
      <tbody>${['current', 'next', 'previous'].flatMap((st) => keys.filter((k) => k.state === st)).map((k) => html`<tr>
        <td>${t(`keys.${k.state}`)}</td><td><code>${k.id}</code></td><td>${k.signingKeyAlgorithm}</td><td>${when(k.createdAt)}</td><td>${when(k.expiresAt)}</td></tr>`)}</tbody>
    </table>`}
    <div class="card">
      <h2>${t('keys.rotate')}</h2>
      <p>${t('keys.rotateHint')}</p>
      <${Select} label=${t('keys.algorithm')} value=${alg} onChange=${setAlg} options=${[['EC', 'EC P-384 (ES384)'], ['EC-P256', 'EC P-256 (ES256)'], ['RSA', 'RSA (RS256)'], ['Ed25519', 'Ed25519 (EdDSA)']]} />
      <${Field} label=${t('keys.grace')} type="number" value=${grace} onInput=${setGrace} min="0" max="2592000" />
      <div class="row"><${DangerButton} label=${t('keys.rotate')} question=${t('keys.rotateQuestion')} fn=${rotate} onError=${setError} /></div>
    </div>`;
}

// ---- email templates: the tenant's own subject and body per language and type ----

const TEMPLATE_TYPES = ['SignIn', 'Register', 'ForgotPassword', 'Generic', 'OrganizationInvitation',
  'UserPermissionValidation', 'BindNewIdentifier', 'MfaVerification', 'BindMfa'];
const CONTENT_TYPES = ['text/html', 'text/plain'];
const MAIL_PATH = `${HOME}/email-templates`;

// The details' fields, shared by the create form and a template's page.
function MailDetailsFields({ form, setForm }) {
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  return html`<${Field} label=${t('mail.subject')} value=${form.subject} onInput=${set('subject')} />
    <${Field} label=${t('mail.content')} type="textarea" rows="8" value=${form.content} onInput=${set('content')} hint=${t('mail.contentHint')} />
    <${Select} label=${t('mail.contentType')} value=${form.contentType} onChange=${set('contentType')} options=${CONTENT_TYPES.map((c) => [c, c])} />
    <${Field} label=${t('mail.replyTo')} value=${form.replyTo} onInput=${set('replyTo')} hint=${t('mail.optional')} />
    <${Field} label=${t('mail.sendFrom')} value=${form.sendFrom} onInput=${set('sendFrom')} hint=${t('mail.optional')} />`;
}

// details as the API takes them: the optional addresses only when given (PATCH keeps the stored
// ones otherwise; the API has no way to clear one but replacing the template).
function mailDetails(form) {
  const d = { subject: form.subject, content: form.content, contentType: form.contentType };
  if (form.replyTo.trim()) d.replyTo = form.replyTo.trim();
  if (form.sendFrom.trim()) d.sendFrom = form.sendFrom.trim();
  return d;
}

const MAIL_EMPTY = { languageTag: '', templateType: 'SignIn', subject: '', content: '', contentType: 'text/html', replyTo: '', sendFrom: '' };

function EmailTemplates() {
  const [filter, setFilter] = useState({ languageTag: '', templateType: '' });
  const [shown, setShown] = useState(filter);
  const q = new URLSearchParams(Object.entries(shown).filter(([, v]) => v));
  const list = useList(`/email-templates${q.toString() ? `?${q}` : ''}`, { paged: false });
  // The API answers every match at once; the console pages through them itself.
  const [page, setPage] = useState(1);
  useEffect(() => setPage(1), [shown]);
  const view = { ...list, total: list.rows.length, rows: list.rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE), page, setPage };
  const [form, setForm] = useState(MAIL_EMPTY);
  const [replacing, setReplacing] = useState(null);
  const put = async () => {
    const { data } = await api('PUT', '/email-templates', {
      templates: [{ languageTag: form.languageTag.trim(), templateType: form.templateType, details: mailDetails(form) }],
    });
    navigate(`${MAIL_PATH}/${data[0].id}`);
  };
  // PUT replaces the tenant's template of that language and type: ask first when there is one.
  const create = useSubmit(async () => {
    const tag = form.languageTag.trim();
    if (tag) {
      const { data } = await api('GET', `/email-templates?${new URLSearchParams({ languageTag: tag, templateType: form.templateType })}`);
      if (data?.length) { setReplacing(data[0]); return; }
    }
    await put();
  });
  const types = [['', t('mail.anyType')], ...TEMPLATE_TYPES.map((x) => [x, t(`mail.type.${x}`)])];
  return html`<h1>${t('nav.mail')}</h1>
    <p class="muted">${t('mail.intro')}</p>
    <form class="row" role="search" aria-label=${t('mail.filters')} onSubmit=${(e) => { e.preventDefault(); setShown(filter); list.reload(); }}>
      <${Field} label=${t('mail.languageTag')} value=${filter.languageTag} onInput=${(v) => setFilter({ ...filter, languageTag: v })} />
      <${Select} label=${t('mail.templateType')} value=${filter.templateType} onChange=${(v) => setFilter({ ...filter, templateType: v })} options=${types} />
      <button type="submit">${t('mail.applyFilters')}</button>
    </form>
    <${Table} list=${view} caption=${t('nav.mail')} empty=${q.toString() ? t('mail.noMatch') : t('mail.none')} columns=${[
      [t('mail.languageTag'), (m) => html`<code>${m.languageTag}</code>`],
      [t('mail.templateType'), (m) => html`<${Link} to=${`${MAIL_PATH}/${m.id}`}>${t(`mail.type.${m.templateType}`)}</${Link}>`],
      [t('mail.subject'), (m) => m.details?.subject],
      [t('mail.contentType'), (m) => m.details?.contentType ?? 'text/html'],
      [t('mail.created'), (m) => when(m.createdAt)],
    ]} />
    <form class="card" onSubmit=${create.run} aria-labelledby="new-mail">
      <h2 id="new-mail">${t('mail.create')}</h2>
      <p class="muted">${t('mail.createHint')}</p>
      <${Field} label=${t('mail.languageTag')} value=${form.languageTag} onInput=${(v) => setForm({ ...form, languageTag: v })} hint=${t('mail.languageHint')} />
      <${Select} label=${t('mail.templateType')} value=${form.templateType} onChange=${(v) => setForm({ ...form, templateType: v })} options=${types.slice(1)} />
      <${MailDetailsFields} form=${form} setForm=${setForm} />
      <${ErrorBox} error=${create.error} />
      <div class="row"><button type="submit" disabled=${create.busy}>${t('create')}</button></div>
    </form>
    ${replacing && html`<${Confirm} text=${t('mail.replaceQuestion', { lang: replacing.languageTag, type: t(`mail.type.${replacing.templateType}`) })}
      action=${t('mail.replace')} onCancel=${() => setReplacing(null)}
      onConfirm=${() => { setReplacing(null); put().catch((e) => create.setError(errorText(e))); }} />`}`;
}

function EmailTemplateDetail({ id }) {
  const eid = encodeURIComponent(id);
  const [tpl, setTpl] = useState(null);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = (data) => {
    setTpl(data);
    const d = data.details ?? {};
    setForm({ subject: d.subject ?? '', content: d.content ?? '', contentType: d.contentType ?? 'text/html', replyTo: d.replyTo ?? '', sendFrom: d.sendFrom ?? '' });
  };
  useEffect(() => {
    api('GET', `/email-templates/${eid}`).then(({ data }) => load(data)).catch((e) => setError(errorText(e)));
  }, [id]);
  const save = useSubmit(async () => {
    setNotice(null);
    const { data } = await api('PATCH', `/email-templates/${eid}/details`, mailDetails(form));
    load(data);
    setNotice(t('saved'));
  });
  const back = html`<p><${Link} to=${MAIL_PATH}>← ${t('nav.mail')}</${Link}></p>`;
  if (!tpl) return html`<h1>${t('nav.mail')}</h1>${back}${error ? html`<${ErrorBox} error=${error} />` : html`<${Loading} />`}`;
  const title = `${t(`mail.type.${tpl.templateType}`)} · ${tpl.languageTag}`;
  return html`<h1>${title}</h1>
    ${back}
    <p class="muted">${t('mail.intro')}</p>
    <${Notice} text=${notice} />
    <${ErrorBox} error=${error} />
    <form class="card" onSubmit=${save.run} aria-labelledby="edit-mail">
      <h2 id="edit-mail">${t('mail.details')}</h2>
      <${MailDetailsFields} form=${form} setForm=${setForm} />
      <${ErrorBox} error=${save.error} />
      <div class="row"><button type="submit" disabled=${save.busy}>${t('save')}</button></div>
    </form>
    <div class="card">
      <h2>${t('mail.delete')}</h2>
      <p class="muted">${t('mail.deleteHint')}</p>
      <${DangerButton} label=${t('mail.delete')} question=${t('mail.deleteQuestion', { lang: tpl.languageTag, type: t(`mail.type.${tpl.templateType}`) })}
        onError=${setError} fn=${async () => { await api('DELETE', `/email-templates/${eid}`); navigate(MAIL_PATH); }} />
    </div>`;
}

// ---- the shell ----

const PAGES = [
  ['', 'dashboard', Dashboard, null],
  ['get-started', 'start', GetStarted, null],
  ['applications', 'applications', Applications, ApplicationDetail],
  ['resources', 'resources', Resources, ResourceDetail],
  ['roles', 'roles', Roles, RoleDetail],
  ['users', 'users', Users, UserDetail],
  ['organizations', 'organizations', Organizations, OrganizationDetail],
  ['organization-template', 'orgTemplate', OrgTemplate, null],
  ['connectors', 'connectors', Connectors, ConnectorDetail],
  ['email-templates', 'mail', EmailTemplates, EmailTemplateDetail],
  ['sign-in-experience', 'sie', SignInExperience, null],
  ['signing-keys', 'keys', SigningKeys, null],
  ['logs', 'logs', Logs, LogDetail],
  ['webhooks', 'hooks', Hooks, HookDetail],
];

function LanguageSwitch({ onChange }) {
  return html`<label class="check">${t('language')}
    <select value=${lang} onChange=${(e) => onChange(e.target.value)}>
      <option value="en">English</option><option value="es">Español</option>
    </select></label>`;
}

function Shell({ setLang }) {
  const path = usePath();
  const rest = path.startsWith(HOME) ? path.slice(HOME.length).replace(/^\/+/, '') : '';
  const [section, id] = rest.split('/');
  const page = PAGES.find(([p]) => p === (section ?? '')) ?? PAGES[0];
  const [, key, List, Detail] = page;
  useEffect(() => {
    document.title = `${t(`nav.${key}`)} · ${t('title')}`;
    document.getElementById('main')?.focus();
  }, [path, lang]);
  return html`<a class="skip" href="#main">${t('skip')}</a>
    <div class="shell">
      <nav class="side" aria-label=${t('nav.label')}>
        <span class="brand">${t('title')}</span>
        <ul>${PAGES.map(([p, k]) => html`<li><${Link} to=${p ? `${HOME}/${p}` : HOME} aria-current=${k === key ? 'page' : undefined}>${t(`nav.${k}`)}</${Link}></li>`)}</ul>
      </nav>
      <div>
        <header class="top">
          <span class="who">${t('tenant')}: <code>${body.tenant}</code></span>
          <${LanguageSwitch} onChange=${setLang} />
          <button class="secondary" onClick=${signOut}>${t('signOut')}</button>
        </header>
        <main id="main" tabindex="-1">
          ${id && Detail ? html`<${Detail} id=${decodeURIComponent(id)} />` : html`<${List} />`}
        </main>
      </div>
    </div>`;
}

function Centered({ title, children }) {
  return html`<main id="main" class="card center"><h1>${title}</h1>${children}</main>`;
}

function NoAccess() {
  return html`<${Centered} title=${t('noAccess.title')}>
    <p>${t('noAccess.text')}</p>
    <button onClick=${signOut}>${t('signOut')}</button>
  </${Centered}>`;
}

function SetPassword() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [done, setDone] = useState(false);
  const form = useSubmit(async () => {
    if (password !== again) throw new Error(t('setPassword.mismatch'));
    const res = await fetch(`${BASE}console/password`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, password }),
    });
    if (res.status !== 204) {
      const json = await res.json().catch(() => ({}));
      throw new ApiError(res.status, json.code, json.message ?? `HTTP ${res.status}`);
    }
    history.replaceState(null, '', `${HOME}/set-password`); // the spent token leaves the address bar
    setDone(true);
  });
  if (done) {
    return html`<${Centered} title=${t('setPassword.title')}>
      <p class="notice" role="status">${t('setPassword.done')}</p>
      <button onClick=${() => startSignIn(HOME)}>${t('signIn')}</button>
    </${Centered}>`;
  }
  return html`<${Centered} title=${t('setPassword.title')}>
    <form onSubmit=${form.run}>
      <${Field} label=${t('users.newPassword')} type="password" value=${password} onInput=${setPassword} autocomplete="new-password" required />
      <${Field} label=${t('setPassword.again')} type="password" value=${again} onInput=${setAgain} autocomplete="new-password" required />
      <${ErrorBox} error=${form.error || (token ? null : t('setPassword.noToken'))} />
      <div class="row"><button type="submit" disabled=${form.busy || !token}>${t('setPassword.submit')}</button></div>
    </form>
  </${Centered}>`;
}

function App() {
  const [, setLangTick] = useState(0);
  const [state, setState] = useState({ phase: 'start', error: null });
  const changeLang = async (l) => {
    localStorage.setItem('latch.console.lang', l); // a preference, not a secret
    await loadStrings(l);
    setLangTick((n) => n + 1);
  };
  useEffect(() => {
    const path = location.pathname;
    if (path === `${HOME}/set-password`) {
      setState({ phase: 'set-password' });
    } else if (path === `${HOME}/callback`) {
      finishSignIn()
        .then((to) => {
          history.replaceState(null, '', to);
          setState({ phase: isAdmin() ? 'ready' : 'no-access' });
        })
        .catch((e) => setState({ phase: 'error', error: errorText(e) }));
    } else {
      startSignIn(path + location.search).catch((e) => setState({ phase: 'error', error: errorText(e) }));
    }
  }, []);
  if (state.phase === 'set-password') return html`<${SetPassword} />`;
  if (state.phase === 'no-access') return html`<${NoAccess} />`;
  if (state.phase === 'error') {
    return html`<${Centered} title=${t('signin.failed')}>
      <${ErrorBox} error=${state.error} />
      <button onClick=${() => startSignIn(HOME)}>${t('signIn')}</button>
    </${Centered}>`;
  }
  if (state.phase === 'ready') return html`<${Shell} setLang=${changeLang} />`;
  return html`<p class="loading" role="status">${t('loading')}</p>`;
}

const preferred = localStorage.getItem('latch.console.lang') || body.lang;
await loadStrings(preferred);
render(html`<${App} />`, document.getElementById('root'));
