/* Interface strings: pick the reader's language, load its catalogue, translate the page. Exposes window.I18N.

   Loaded in <head> (before first paint): it sets <html lang dir> at once and hides the body until the
   catalogue is applied (common.css shows it anyway after a few seconds if something went wrong).

   Catalogues: /static/i18n/{locale}.json for the public pages (landing, delegate, room screen) and
   /static/i18n/{name}.{locale}.json for <html data-catalogue="name"> (staff, chair). Each is one flat
   JSON object, key -> message; every locale of a catalogue has exactly the keys of its English file
   (tests/test_i18n.py checks). Message format, a small subset of ICU MessageFormat:
     {name}                               the value; numbers written with Intl.NumberFormat
     {name, plural, =0 {…} one {…} other {…}}
                                          a branch picked by Intl.PluralRules of the locale ("=N" exact
                                          matches first); inside it, # is the formatted number
   Nothing else: no select, no escapes, no braces as text.
   Markup: data-i18n="key" sets the text; data-i18n-title, -aria-label, -placeholder, -alt set attributes.

   Locale order: ?ui= (remembered), the reader's earlier choice, navigator.languages, the Accept-Language
   the server copied into <meta name="accept-language">, then English. The room screen
   (<html data-i18n-from="lang">) puts the first language of its ?lang= before the reader's choice. ?ui=qps-ploc is a pseudo-locale
   (English wrapped in ⟦ ⟧) that tests use to find text the catalogue does not provide.
*/
(function () {
  "use strict";

  var CATALOGUES = {
    "": ["ar", "bn", "de", "en", "es", "fa", "fr", "hi", "id", "it", "ja", "kk", "ko", "ms", "pt", "ru",
         "sw", "th", "tr", "uk", "ur", "uz", "vi", "zh"],
    staff: ["en", "zh"],
    chair: ["en", "zh"]
  };
  var RTL_LANGS = ["ar", "fa", "he", "ur", "ps", "sd", "ug", "yi", "dv", "ckb"];
  var PSEUDO = "qps-ploc";
  var STORE_KEY = "cc.ui";
  var ATTRS = ["title", "aria-label", "placeholder", "alt"];
  var TAG_RE = /^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/;

  var root = document.documentElement;
  var catalogue = root.getAttribute("data-catalogue") || "";
  var locales = CATALOGUES[catalogue] || CATALOGUES[""];
  var messages = {};
  var listeners = [];
  var parsed = {};

  function primary(tag) { return String(tag || "").split("-")[0].toLowerCase(); }

  var storage = {
    get: function () { try { return localStorage.getItem(STORE_KEY) || ""; } catch (e) { return ""; } },
    set: function (v) { try { localStorage.setItem(STORE_KEY, v); } catch (e) { /* storage blocked */ } }
  };

  /** The reader's languages, most wanted first: the browser's list, then the Accept-Language header. */
  function preferences() {
    var out = [];
    var nav = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    var meta = document.querySelector('meta[name="accept-language"]');
    var header = meta ? (meta.getAttribute("content") || "").split(",") : [];
    nav.concat(header).forEach(function (tag) {
      tag = String(tag || "").split(";")[0].trim();
      if (TAG_RE.test(tag) && out.indexOf(tag) < 0) out.push(tag);
    });
    return out;
  }

  /**
   * The best of `available` (codes like "en", "pt", "zt") for the wanted tags, or null.
   * For each wanted tag in turn: the exact code, then traditional Chinese ("zt") for zh-Hant/TW/HK/MO,
   * then the tag's primary language.
   */
  function bestMatch(wanted, available) {
    var lower = available.map(function (a) { return String(a).toLowerCase(); });
    for (var i = 0; i < wanted.length; i++) {
      var tag = String(wanted[i]).toLowerCase(), at = lower.indexOf(tag);
      if (at >= 0) return available[at];
      if (/^zh-(hant|tw|hk|mo)/.test(tag) && lower.indexOf("zt") >= 0) return available[lower.indexOf("zt")];
      at = lower.indexOf(primary(tag));
      if (at >= 0) return available[at];
    }
    return null;
  }

  function requested() {
    var query = new URLSearchParams(location.search), ui = query.get("ui") || "";
    if (ui === PSEUDO) return { locale: PSEUDO, remember: false };
    var fromUrl = bestMatch([ui], locales);
    if (fromUrl) return { locale: fromUrl, remember: true };
    // A page for a whole room (data-i18n-from="lang") speaks the first language it shows, not this device's.
    var from = root.getAttribute("data-i18n-from");
    var shown = from ? bestMatch([(query.get(from) || "").split(",")[0].trim()], locales) : null;
    if (shown) return { locale: shown, remember: false };
    return { locale: bestMatch([storage.get()].concat(preferences()), locales) || "en", remember: false };
  }

  // -- messages ----------------------------------------------------------------------------------
  /* A message parses into a list of parts: strings, {arg} and {arg, plural, branches: {sel: parts}}. */
  function parse(text) {
    var pos = 0;
    function parts(inPlural) {
      var out = [], buf = "";
      while (pos < text.length) {
        var ch = text[pos];
        if (ch === "}") break;
        if (ch === "{") {
          if (buf) { out.push(buf); buf = ""; }
          out.push(arg());
          continue;
        }
        if (ch === "#" && inPlural) {
          if (buf) { out.push(buf); buf = ""; }
          out.push({ hash: true });
          pos++;
          continue;
        }
        buf += ch;
        pos++;
      }
      if (buf) out.push(buf);
      return out;
    }
    function arg() {
      var close = text.indexOf("}", pos), comma = text.indexOf(",", pos);
      if (comma < 0 || comma > close) {  // {name}
        var name = text.slice(pos + 1, close).trim();
        pos = close + 1;
        return { arg: name };
      }
      var head = text.slice(pos + 1, comma).trim();
      var rest = text.indexOf(",", comma + 1);
      var kind = text.slice(comma + 1, rest).trim();
      if (kind !== "plural") throw new Error("unknown argument type " + kind);
      pos = rest + 1;
      var branches = {};
      for (;;) {
        while (/\s/.test(text[pos])) pos++;
        if (text[pos] === "}") { pos++; break; }
        var open = text.indexOf("{", pos);
        if (open < 0 || pos >= text.length) throw new Error("unclosed plural in " + text);
        var sel = text.slice(pos, open).trim();
        pos = open + 1;
        branches[sel] = parts(true);
        pos++;  // the branch's "}"
      }
      return { arg: head, plural: branches };
    }
    return parts(false);
  }

  function formatNumber(n, locale) {
    try { return new Intl.NumberFormat(locale || current.locale).format(n); } catch (e) { return String(n); }
  }

  function render(partsList, values, locale, count) {
    return partsList.map(function (p) {
      if (typeof p === "string") return p;
      if (p.hash) return formatNumber(count, locale);
      var v = values ? values[p.arg] : undefined;
      if (p.plural) {
        var n = Number(v), branch = p.plural["=" + n];
        if (!branch) {
          var cat = "other";
          try { cat = new Intl.PluralRules(locale).select(n); } catch (e) { /* no Intl: other */ }
          branch = p.plural[cat] || p.plural.other || [];
        }
        return render(branch, values, locale, n);
      }
      if (v === undefined || v === null) return "";
      return typeof v === "number" ? formatNumber(v, locale) : String(v);
    }).join("");
  }

  function format(locale, message, values) {
    var key = locale + "\u0000" + message;
    if (!parsed[key]) {
      try { parsed[key] = parse(message); } catch (e) { parsed[key] = [message]; }
    }
    return render(parsed[key], values, locale === PSEUDO ? "en" : locale, 0);
  }

  /** A translator for one locale's table: t(key, values) -> string (the key itself if missing). */
  function translator(locale, table) {
    return function (key, values) {
      var message = table[key];
      if (typeof message !== "string") {
        if (window.console) console.warn("i18n: no message " + key + " in " + locale);
        return key;
      }
      return format(locale, message, values);
    };
  }

  function fileFor(locale) {
    var name = locale === PSEUDO ? "en" : locale;
    return "/static/i18n/" + (catalogue ? catalogue + "." : "") + name + ".json";
  }

  var loaded = {};
  /** Fetch a locale's messages (a promise of the key -> message object; {} if it cannot be loaded). */
  function load(locale) {
    if (!loaded[locale]) {
      loaded[locale] = fetch(fileFor(locale), { cache: "no-cache" }).then(function (r) {
        if (!r.ok) throw new Error(r.status + " for " + fileFor(locale));
        return r.json();
      }).then(function (table) {
        if (locale !== PSEUDO) return table;
        var wrapped = {};
        Object.keys(table).forEach(function (k) { wrapped[k] = "⟦" + table[k] + "⟧"; });
        return wrapped;
      }).catch(function (e) {
        delete loaded[locale];
        if (window.console) console.warn("i18n: " + e.message);
        return locale === "en" ? {} : load("en");
      });
    }
    return loaded[locale];
  }

  // -- the page ------------------------------------------------------------------------------------
  var current = { locale: "en", t: translator("en", messages) };

  /* The writing direction of a language: "rtl" or "ltr", for a dir attribute. */
  function dirOf(code) { return RTL_LANGS.indexOf(primary(code)) >= 0 ? "rtl" : "ltr"; }

  function setRoot(locale) {
    root.setAttribute("lang", locale === PSEUDO ? "en" : locale);
    root.setAttribute("dir", dirOf(locale));
  }

  /** Translate every marked element under node (the whole document by default). */
  function apply(node) {
    var scope = node || document;
    scope.querySelectorAll("[data-i18n]").forEach(function (e) { e.textContent = current.t(e.getAttribute("data-i18n")); });
    ATTRS.forEach(function (attr) {
      scope.querySelectorAll("[data-i18n-" + attr + "]").forEach(function (e) {
        e.setAttribute(attr, current.t(e.getAttribute("data-i18n-" + attr)));
      });
    });
  }

  function whenDomReady() {
    return new Promise(function (resolve) {
      if (document.readyState !== "loading") resolve();
      else document.addEventListener("DOMContentLoaded", function () { resolve(); });
    });
  }

  /** Switch the interface to `locale` (remembered when `remember`); resolves once the page shows it. */
  function use(locale, remember) {
    if (remember && locale !== PSEUDO) storage.set(locale);
    return Promise.all([load(locale), whenDomReady()]).then(function (res) {
      messages = res[0];
      current.locale = locale;
      current.t = translator(locale, messages);
      I18N.locale = locale === PSEUDO ? "en" : locale;
      I18N.dir = dirOf(locale);
      setRoot(locale);
      apply(document);
      root.classList.remove("i18n-pending");
      listeners.slice().forEach(function (fn) { fn(I18N.locale); });
    });
  }

  /** Fill a <select> with this page's interface languages (each named in itself) and switch on change. */
  function picker(select) {
    select.textContent = "";
    locales.slice().sort(function (a, b) { return nativeName(a).localeCompare(nativeName(b)); }).forEach(function (code) {
      var opt = document.createElement("option");
      opt.value = code;
      opt.lang = code;
      opt.textContent = nativeName(code);
      select.appendChild(opt);
    });
    select.setAttribute("translate", "no");
    select.value = I18N.locale;
    select.addEventListener("change", function () { use(select.value, true); });
    onchange(function (loc) { select.value = loc; });
  }

  function onchange(fn) { listeners.push(fn); }

  // -- language names ---------------------------------------------------------------------------------
  /* Used only where Intl.DisplayNames is missing or does not know the code. */
  var NATIVE_NAMES = {
    ar: "العربية", bg: "Български", bn: "বাংলা", ca: "Català", cs: "Čeština", da: "Dansk", de: "Deutsch",
    el: "Ελληνικά", en: "English", eo: "Esperanto", es: "Español", et: "Eesti", eu: "Euskara", fa: "فارسی",
    fi: "Suomi", fr: "Français", ga: "Gaeilge", gl: "Galego", he: "עברית", hi: "हिन्दी", hr: "Hrvatski",
    hu: "Magyar", id: "Bahasa Indonesia", it: "Italiano", ja: "日本語", kk: "Қазақ тілі", ko: "한국어",
    lt: "Lietuvių", lv: "Latviešu", ms: "Bahasa Melayu", nb: "Norsk bokmål", nl: "Nederlands", pl: "Polski",
    pt: "Português", ro: "Română", ru: "Русский", sk: "Slovenčina", sl: "Slovenščina", sq: "Shqip",
    sr: "Српски", sv: "Svenska", sw: "Kiswahili", th: "ไทย", tl: "Tagalog", tr: "Türkçe", uk: "Українська",
    ur: "اردو", uz: "Oʻzbekcha", vi: "Tiếng Việt", zh: "中文", zt: "中文（繁體）", "zh-Hant": "中文（繁體）",
    "zh-Hans": "中文（简体）"
  };

  function capitalise(name, code) {
    try { return name.charAt(0).toLocaleUpperCase(code) + name.slice(1); } catch (e) { return name; }
  }
  var namers = {};
  function namer(locale) {
    if (!(locale in namers)) {
      namers[locale] = null;
      try {
        // A locale the browser has no names for would silently get English ones: refuse it instead.
        if (Intl.DisplayNames.supportedLocalesOf([locale]).length) {
          namers[locale] = new Intl.DisplayNames([locale], { type: "language" });
        }
      } catch (e) { /* no Intl.DisplayNames */ }
    }
    return namers[locale];
  }
  function displayName(code, inLocale) {
    var tag = code === "zt" ? "zh-Hant" : code;
    if (typeof Intl === "undefined" || !Intl.DisplayNames) return "";
    try {
      var names = namer(inLocale === "zt" ? "zh-Hant" : inLocale);
      var n = names ? names.of(tag) : "";
      return n && n !== tag && n !== code ? n : "";  // the code back means no data for that language
    } catch (e) { return ""; }
  }

  var nativeCache = {};
  /** The language's name written in that language ("Deutsch" for de), for pickers. */
  function nativeName(code) {
    if (!code) return "";
    if (!nativeCache[code]) {
      nativeCache[code] = NATIVE_NAMES[code] || capitalise(displayName(code, code), code) ||
        NATIVE_NAMES[primary(code)] || code;
    }
    return nativeCache[code];
  }

  /** The language's name in the interface language ("allemand" for de in French), for sentences. */
  function languageName(code) {
    return displayName(code, I18N.locale) || nativeName(code);
  }

  /** The language's name in the interface language, capitalised to stand alone in a list. */
  function standaloneName(code) { return capitalise(languageName(code), I18N.locale); }

  /** A language for a picker: its name in the interface language, then its own name when that differs
      ("Бразильский португальский · Português (Brasil)": a regional name has brackets of its own). */
  function languageLabel(code) {
    var local = standaloneName(code), own = nativeName(code);
    if (local === own) return own;
    return /[(（]/.test(own) ? local + " · " + own : local + " (" + own + ")";
  }

  var start = requested();
  setRoot(start.locale);
  root.classList.add("i18n-pending");

  var I18N = window.I18N = {
    locale: start.locale === PSEUDO ? "en" : start.locale,
    dir: dirOf(start.locale),
    locales: locales,
    catalogues: CATALOGUES,
    t: function (key, values) { return current.t(key, values); },
    ready: null,
    use: use, load: load, apply: apply, picker: picker, onchange: onchange, format: format, parse: parse,
    translator: translator, preferences: preferences, bestMatch: bestMatch, formatNumber: formatNumber,
    dirOf: dirOf, nativeName: nativeName, languageName: languageName, standaloneName: standaloneName,
    languageLabel: languageLabel
  };
  I18N.ready = use(start.locale, start.remember);
})();
