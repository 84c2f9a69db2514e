// The console's words in the user's language. Strings live in /static/i18n/<language>.json (flat keys,
// "{name}" placeholders); languages.json lists the languages offered, each by its own name. The language is
// the one chosen in the top bar (kept in localStorage), else the browser's first that the console has,
// else English. A key a language lacks is said in English (and logged once), so a partial file still works.
// Pages call t() while they render: switching language renders the page again.

const BASE = "/static/i18n/";
const STORE = "gridwatch.lang";
const FALLBACK = "en";

let offered = { [FALLBACK]: "English" };
let lang = FALLBACK;
let english = {};
let strings = {};
const warned = new Set();

async function load(file) {
  const res = await fetch(BASE + file, { credentials: "same-origin" });
  if (!res.ok) throw new Error(`${BASE}${file}: HTTP ${res.status}`);
  return res.json();
}

function stored() {
  try { return localStorage.getItem(STORE); } catch { return null; } // storage may be off in private modes
}

// The language to use: the stored choice when it is offered, else the first of the browser's languages
// that is offered exactly or by its base ("zh-Hans-CN" and "zh" find "zh-CN"), else English.
export function choose(available, choice, preferred) {
  if (choice && available.includes(choice)) return choice;
  for (const want of preferred) {
    const w = String(want).toLowerCase();
    const exact = available.find((a) => a.toLowerCase() === w);
    if (exact) return exact;
    const base = available.find((a) => a.split("-")[0].toLowerCase() === w.split("-")[0]);
    if (base) return base;
  }
  return FALLBACK;
}

// Words in the static HTML: data-i18n="key" is the element's text; data-i18n-title, -placeholder and
// -aria-label name the key of that attribute.
export function translateDom(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["title", "placeholder", "aria-label"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
  }
}

async function use(code) {
  const next = code === FALLBACK ? english : await load(`${code}.json`);
  strings = next;
  lang = code;
  document.documentElement.lang = code;
  translateDom();
}

// Load the strings of the language to use; call before anything renders.
export async function initI18n() {
  [offered, english] = await Promise.all([load("languages.json").catch(() => offered), load(`${FALLBACK}.json`)]);
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || FALLBACK];
  const code = choose(Object.keys(offered), stored(), preferred);
  try { await use(code); } catch (e) { console.warn(`i18n: ${e.message}; using English`); await use(FALLBACK); }
}

// Switch to `code` and remember it for the next visit (the caller renders again).
export async function setLanguage(code) {
  await use(code);
  try { localStorage.setItem(STORE, code); } catch { /* not remembered, still switched */ }
}

export function language() { return lang; }

// The language picker: a <select> of the offered languages; `onChange` runs after the switch.
export function languageSelect(select, onChange = () => {}) {
  select.replaceChildren(...Object.entries(offered).map(([code, name]) => {
    const o = document.createElement("option");
    o.value = code;
    o.textContent = name;
    o.lang = code;
    o.selected = code === lang;
    return o;
  }));
  select.addEventListener("change", async () => { await setLanguage(select.value); onChange(); });
}

function fill(text, params) {
  return params ? text.replace(/\{(\w+)\}/g, (m, name) => (params[name] === undefined ? m : String(params[name]))) : text;
}

// t("cases.summary", {total: 3}): the string in the current language, English when it has none.
export function t(key, params) {
  let text = strings[key];
  if (text === undefined) {
    text = english[key];
    if (!warned.has(key)) {
      warned.add(key);
      console.warn(`i18n: "${key}" is missing in ${text === undefined ? "every language" : lang}`);
    }
    if (text === undefined) text = key;
  }
  return fill(text, params);
}

// t() for a string with elements in it: the pieces for h() or replaceChildren(), each {name} replaced by
// params.name as it is (a node stays a node).
export function tParts(key, params) {
  return t(key).split(/(\{\w+\})/).filter(Boolean).map((piece) => {
    const m = piece.match(/^\{(\w+)\}$/);
    return m && params[m[1]] !== undefined ? params[m[1]] : piece;
  });
}

// Does either the current language or English have `key`?
export function known(key) { return key in strings || key in english; }

// An enumerated value from the server (case state, hazard, role, …) in words: the string "<kind>.<value>",
// or for a value the console does not know (a newer server), the value itself with spaces for underscores.
export function tv(kind, value) {
  if (value === undefined || value === null || value === "") return "";
  const key = `${kind}.${String(value).replaceAll(" ", "_")}`;
  return known(key) ? t(key) : String(value).replaceAll("_", " ");
}

// Numbers and moments in the language's own way.
export function fmtNumber(value, digits) {
  if (value === undefined || value === null || Number.isNaN(Number(value))) return "—";
  const opts = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(lang, opts).format(Number(value));
}

export function fmtDate(d, opts) { return new Intl.DateTimeFormat(lang, opts).format(d); }

// "a, b or c" ("a、b或c"): alternatives in the language's own way.
export function fmtOr(items) { return new Intl.ListFormat(lang, { type: "disjunction" }).format(items); }
