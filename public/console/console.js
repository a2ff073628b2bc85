// What every console page's scripts share: the page's strings in its language (the js. keys of src/console/strings/scripts.ts) and the one time zone its times are in.
'use strict';
window.consoleLocale = (function () {
  const strings = JSON.parse(document.body.dataset.strings || '{}');
  return {
    timeZone: document.body.dataset.timeZone,
    /** The string `key` with its `{name}`s filled in from `vars`. */
    t(key, vars) {
      return (strings[key] || key).replace(/\{(\w+)\}/g, (whole, name) => (vars && name in vars ? String(vars[name]) : whole));
    },
  };
})();
