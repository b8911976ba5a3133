// The scenario explorer (GET /explore). Hand-written ES2020, no build step: the service embeds
// this file as it is (mechafil-api/src/http/explore.rs).
//
// How it works:
// - The server renders what the page must not hard-code into #explore-config: every parameter
//   of /simulate with its unit, bounds and default on the served snapshot, the snapshot's
//   source and dates, and the chart catalogue (which history field and forecast series each
//   chart line draws).
// - History comes once from GET /historical-data (weekly, Mondays) and, for what the data does
//   not measure, from the model over the history days (POST /simulate/full with a 1-day
//   forecast, sampled on the same Mondays). Forecasts come from POST /simulate (weekly Mondays),
//   so history and forecast share one weekly date axis. The server renders the API's answers
//   to these first three requests into #explore-answers; the page uses each one whose request
//   is the one it would send, and asks the API for the others.
// - Every input change bumps the state; requests are coalesced (see DEBOUNCE_MS) and at most
//   one is in flight, always for the latest state (the forecast first, then the pinned
//   comparison and the bands, which are aborted when the forecast is needed again). Whatever is
//   drawn for older inputs is marked as not current until its answer arrives or fails.
// - The view lives in the query string (replaceState), so a link reproduces it.
// - performance.mark('explore:first-chart') and performance.measure('explore:redraw', ...) let
//   benches/src/bin/page_load.rs read load and redraw times from the page itself (with the
//   marks 'explore:script', when this script starts, and 'explore:data', when the first
//   chart's data is all there).
(() => {
  'use strict';

  performance.mark('explore:script');
  const CONFIG = JSON.parse(document.getElementById('explore-config').textContent);
  const SNAP = CONFIG.snapshot;
  const PARAMS = CONFIG.params;
  const PARAM = Object.fromEntries(PARAMS.map((p) => [p.name, p]));
  const CHARTS = CONFIG.charts;
  const CHART = Object.fromEntries(CHARTS.map((c) => [c.id, c]));
  const HISTORY_FIELDS = new Set(CONFIG.history_fields);

  // Changes are coalesced: the first one goes out at the end of the current task (so the
  // events of one keystroke or one slider step make one request), and changes made while a
  // request runs wait for it and then go out as one request for the latest inputs. A longer
  // delay would only add latency: one request in flight already bounds the rate.
  const DEBOUNCE_MS = 0;
  const DAY_MS = 864e5;
  const DAY_S = 86400;
  const QUANTILES = [5, 25, 50, 75, 95];
  // Tries of a request whose answering machine lacks the pinned snapshot (409 with `held`).
  const NOT_HELD_ATTEMPTS = 3;
  // The bands' spread. The defaults are the API's own default spread for /analyze/ensemble
  // (docs/API.md): rbp lognormal with sd 25 % of its value, rr and fpr normal with sd 0.05.
  const SPREAD = [
    { name: 'spread_rbp', knob: 'rbp', label: 'Onboarding spread', unit: '% of the value (sd, lognormal)', def: 25, min: 0, max: 200, step: 1 },
    { name: 'spread_rr', knob: 'rr', label: 'Renewal rate spread', unit: 'sd (normal)', def: 0.05, min: 0, max: 1, step: 0.01 },
    { name: 'spread_fpr', knob: 'fpr', label: 'FIL+ share spread', unit: 'sd (normal)', def: 0.05, min: 0, max: 1, step: 0.01 },
  ];
  const MEMBERS_DEFAULT = 200;
  const PALETTE = ['#1f5fa8', '#c2571a', '#2e7d32', '#8e24aa'];

  // ---------------------------------------------------------------- dates (UTC day numbers)
  const dayOf = (iso) => {
    const [y, m, d] = iso.split('-').map(Number);
    return Date.UTC(y, m - 1, d) / DAY_MS;
  };
  const isoOf = (day) => new Date(day * DAY_MS).toISOString().slice(0, 10);
  // Day 0 (1970-01-01) was a Thursday, so (day + 3) % 7 is 0 on Mondays.
  const mondayOnOrAfter = (day) => day + ((7 - ((day + 3) % 7)) % 7);
  const mondayOnOrBefore = (day) => day - ((day + 3) % 7);
  const CURRENT_DAY = dayOf(SNAP.current_date);
  const GRID_START = mondayOnOrAfter(dayOf(SNAP.start_date));

  // ---------------------------------------------------------------- number formats
  const exact = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6 });
  const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumSignificantDigits: 3 });
  const finite = (v) => typeof v === 'number' && Number.isFinite(v);
  const fmt = (v) => (finite(v) ? exact.format(v) : '—');
  const fmtTick = (v) => (Math.abs(v) >= 1e4 ? compact.format(v) : exact.format(+v.toPrecision(4)));

  // ---------------------------------------------------------------- state
  const state = {
    values: {}, // explicitly set parameters; absent = the snapshot's default
    charts: CHARTS.filter((c) => c.shown_by_default).map((c) => c.id),
    bands: false,
    members: MEMBERS_DEFAULT,
    spread: Object.fromEntries(SPREAD.map((s) => [s.name, s.def])),
    pinned: null, // a full scenario (every knob's value) or null
    at: null, // the day whose values the tables show; null = the forecast's last date
  };
  const localErrors = new Map(); // field -> message, for inputs that are not numbers
  let version = 0; // bumped by every parameter change, for the redraw measurements
  const pendingInputs = []; // {version, t}: parameter changes not yet drawn

  // ---------------------------------------------------------------- DOM helpers
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) node.append(c);
    return node;
  };

  // ---------------------------------------------------------------- URL state
  const notices = [];

  function readUrl() {
    const q = new URLSearchParams(location.search);
    for (const p of PARAMS) {
      if (!q.has(p.name)) continue;
      const raw = q.get(p.name);
      const v = parseParam(p, raw);
      if (v === undefined) notices.push(`Ignored ${p.name}=${raw} from the link: not a ${p.kind === 'bool' ? 'true/false value' : 'number'}.`);
      else state.values[p.name] = v;
    }
    if (q.has('charts')) state.charts = q.get('charts').split(',').filter((id) => id in CHART);
    state.bands = q.get('bands') === '1';
    if (finite(Number(q.get('members'))) && q.get('members') !== null) state.members = Number(q.get('members'));
    for (const s of SPREAD) {
      if (q.has(s.name) && finite(Number(q.get(s.name)))) state.spread[s.name] = Number(q.get(s.name));
    }
    const pinned = {};
    for (const p of PARAMS) {
      const raw = q.get('pin.' + p.name);
      if (raw !== null && parseParam(p, raw) !== undefined) pinned[p.name] = parseParam(p, raw);
    }
    if (Object.keys(pinned).length) state.pinned = pinned;
    const at = q.get('at');
    if (at && /^\d{4}-\d{2}-\d{2}$/.test(at)) state.at = dayOf(at);
    const snap = q.get('snapshot');
    if (snap && snap !== SNAP.current_date) {
      notices.push(`This link was made on the snapshot of ${snap}; the server now serves the snapshot of ${SNAP.current_date}, so the history and the defaults may differ.`);
    }
  }

  function parseParam(p, raw) {
    if (p.kind === 'bool') return raw === 'true' ? true : raw === 'false' ? false : undefined;
    if (raw.trim() === '') return undefined;
    const v = Number(raw);
    return Number.isFinite(v) ? v : undefined;
  }

  // The address bar follows the view once the view rests for URL_DELAY_MS: Chromium ignores
  // (and warns about) more than about 200 history changes in 10 s, and each one costs the
  // browser some milliseconds, which a dragged slider should not pay on every step.
  const URL_DELAY_MS = 300;
  let urlTimer = null;
  function writeUrl() {
    document.body.dataset.urlPending = 'true';
    clearTimeout(urlTimer);
    urlTimer = setTimeout(flushUrl, URL_DELAY_MS);
  }

  function flushUrl() {
    clearTimeout(urlTimer);
    urlTimer = null;
    applyUrl();
    delete document.body.dataset.urlPending;
  }

  function applyUrl() {
    const q = new URLSearchParams();
    for (const p of PARAMS) if (p.name in state.values) q.set(p.name, String(state.values[p.name]));
    const defaults = CHARTS.filter((c) => c.shown_by_default).map((c) => c.id).join(',');
    if (state.charts.join(',') !== defaults) q.set('charts', state.charts.join(','));
    if (state.bands) {
      q.set('bands', '1');
      if (state.members !== MEMBERS_DEFAULT) q.set('members', String(state.members));
      for (const s of SPREAD) if (state.spread[s.name] !== s.def) q.set(s.name, String(state.spread[s.name]));
    }
    if (state.pinned) for (const [k, v] of Object.entries(state.pinned)) q.set('pin.' + k, String(v));
    if (state.at !== null) q.set('at', isoOf(state.at));
    if (q.toString()) q.set('snapshot', SNAP.current_date);
    const qs = q.toString();
    history.replaceState(null, '', location.pathname + (qs ? '?' + qs : ''));
  }

  // ---------------------------------------------------------------- controls
  const inputs = {}; // name -> {number, range, error, row}

  function defaultText(p) {
    if (p.kind === 'bool') return `default ${p.default ? 'on' : 'off'}`;
    const from = p.default_from === 'snapshot' ? ` (30-day median of the snapshot of ${SNAP.current_date})` : '';
    return `default ${fmt(p.default)}${from}`;
  }

  function buildControls() {
    const box = $('params');
    for (const p of PARAMS) {
      const errId = `err-${p.name}`;
      const helpId = `help-${p.name}`;
      const row = el('div', { class: 'param', 'data-param': p.name });
      // An alert, so a screen reader reads the API's message when it appears.
      const error = el('p', { class: 'field-error', id: errId, role: 'alert', hidden: true });
      const rangeText = p.bounds ? `allowed ${p.bounds.replace(/<=/g, '≤').replace(/ x /, ` ${p.name} `)}` : '';
      const help = el('p', { class: 'help', id: helpId, text: [rangeText, defaultText(p)].filter(Boolean).join(' · ') });
      let number = null;
      let range = null;
      if (p.kind === 'bool') {
        number = el('input', { type: 'checkbox', id: `p-${p.name}`, name: p.name, 'aria-describedby': `${helpId} ${errId}` });
        row.append(el('label', { class: 'check', for: `p-${p.name}` }, number, ` ${p.label}`), help, error);
        number.addEventListener('change', () => setParam(p, number.checked));
      } else {
        const unit = p.unit ? ` (${p.unit})` : '';
        const label = el('label', { for: `p-${p.name}` }, `${p.label}${unit} `, el('code', { text: p.name }));
        number = el('input', {
          type: 'number', id: `p-${p.name}`, name: p.name, step: 'any', inputmode: 'decimal',
          min: p.min, max: p.max, 'aria-describedby': `${helpId} ${errId}`,
        });
        range = el('input', {
          type: 'range', id: `r-${p.name}`, 'data-param': p.name, min: p.slider.min, max: p.slider.max,
          step: p.slider.step, 'aria-label': `${p.label} slider`, 'aria-describedby': helpId,
        });
        row.append(label, el('div', { class: 'pair' }, range, number), help, error);
        range.addEventListener('input', (ev) => {
          number.value = range.value;
          clearLocalError(p.name);
          setParam(p, range.valueAsNumber, ev.timeStamp);
        });
        number.addEventListener('input', (ev) => {
          if (number.validity.badInput) {
            setLocalError(p.name, 'Enter a number.');
            return;
          }
          clearLocalError(p.name);
          if (number.value.trim() === '') setParam(p, undefined, ev.timeStamp);
          else {
            range.value = number.value;
            setParam(p, number.valueAsNumber, ev.timeStamp);
          }
        });
        // An emptied box means "the default": show it again once the user leaves the box.
        number.addEventListener('change', () => {
          if (number.value.trim() === '' && !number.validity.badInput) showParam(p);
        });
      }
      inputs[p.name] = { number, range, error, row };
      box.append(row);
      showParam(p);
    }

    const spread = $('spread');
    spread.append(el('p', { class: 'help', text: 'Members draw these knobs at random around the scenario; the bands are the 5–95 % and 25–75 % ranges of their forecasts.' }));
    for (const s of SPREAD) {
      const input = el('input', { type: 'number', id: s.name, name: s.name, min: s.min, max: s.max, step: s.step, value: state.spread[s.name] });
      input.addEventListener('input', () => {
        if (input.value.trim() === '' || !finite(input.valueAsNumber)) return;
        state.spread[s.name] = input.valueAsNumber;
        changed();
      });
      spread.append(el('div', { class: 'param small' }, el('label', { for: s.name, text: `${s.label}, ${s.unit}` }), input,
        el('p', { class: 'field-error', id: `err-${s.name}`, hidden: true })));
    }
    const members = el('input', { type: 'number', id: 'members', name: 'members', min: 1, max: 10000, step: 1, value: state.members });
    members.addEventListener('input', () => {
      if (!finite(members.valueAsNumber)) return;
      state.members = members.valueAsNumber;
      changed();
    });
    spread.append(el('div', { class: 'param small' }, el('label', { for: 'members', text: 'Members (simulations)' }), members,
      el('p', { class: 'field-error', id: 'err-members', hidden: true })));
    $('bands').checked = state.bands;
    $('bands').addEventListener('change', () => {
      state.bands = $('bands').checked;
      layoutChanged();
    });

    const choices = $('chart-choices');
    for (const c of CHARTS) {
      const box = el('input', { type: 'checkbox', name: 'chart', value: c.id, id: `c-${c.id}` });
      box.checked = state.charts.includes(c.id);
      box.addEventListener('change', () => {
        state.charts = CHARTS.filter((x) => $(`c-${x.id}`).checked).map((x) => x.id);
        layoutChanged();
      });
      choices.append(el('label', { class: 'check', for: `c-${c.id}` }, box, ` ${c.title} `, el('span', { class: 'unit', text: `(${c.unit})` })));
    }

    $('reset').addEventListener('click', () => {
      state.values = {};
      localErrors.clear();
      for (const p of PARAMS) {
        clearLocalError(p.name);
        showParam(p);
      }
      changed(performance.now());
    });
    $('pin').addEventListener('click', togglePin);
    $('download-csv').addEventListener('click', () => download('csv'));
    $('download-json').addEventListener('click', () => download('json'));
    $('copy-link').addEventListener('click', copyLink);
    $('at').addEventListener('input', () => {
      state.at = grid.days[$('at').valueAsNumber];
      renderReadouts(true);
      writeUrl();
    });
    $('uplot-version').textContent = `uPlot ${CONFIG.uplot_version} (MIT)`;
  }

  // Shows the value a parameter has in the state (or its default) in its inputs.
  function showParam(p) {
    const { number, range, row } = inputs[p.name];
    const given = p.name in state.values;
    const v = given ? state.values[p.name] : p.default;
    if (p.kind === 'bool') number.checked = !!v;
    else {
      // Defaults from the snapshot have many digits; the box shows a readable rounding and the
      // help line the default itself. A given value is shown exactly as given.
      number.value = given ? String(v) : String(+Number(v).toPrecision(6));
      range.value = String(v);
    }
    row.classList.toggle('is-default', !given);
  }

  function setParam(p, value, t) {
    if (value === undefined) delete state.values[p.name];
    else state.values[p.name] = value;
    inputs[p.name].row.classList.toggle('is-default', value === undefined);
    changed(t);
  }

  function setLocalError(name, message) {
    localErrors.set(name, message);
    showFieldError(name, message);
    changed();
  }

  function clearLocalError(name) {
    if (localErrors.delete(name)) showFieldError(name, null);
  }

  function showFieldError(name, message) {
    const target = inputs[name] ? inputs[name].error : $(`err-${name}`);
    if (!target) return false;
    target.textContent = message || '';
    target.hidden = !message;
    const input = inputs[name] ? inputs[name].number : $(name);
    if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
    return true;
  }

  // ---------------------------------------------------------------- requests
  // Each layer derives the request it wants from the state (null = nothing to ask). A layer is
  // current when its last answer is for the request it wants now.
  const layers = {
    model: { want: null, done: null, failed: null, running: null, answer: null, status: 'idle', error: null },
    forecast: { want: null, done: null, failed: null, running: null, answer: null, status: 'idle', error: null },
    compare: { want: null, done: null, failed: null, running: null, answer: null, status: 'idle', error: null },
    bands: { want: null, done: null, failed: null, running: null, answer: null, status: 'idle', error: null },
  };
  const ORDER = ['model', 'forecast', 'compare', 'bands'];
  const URLS = { model: '/simulate/full', forecast: '/simulate', compare: '/analyze/compare', bands: '/analyze/ensemble' };
  let inflight = null; // {layer, key, controller}
  let timer = null;
  let hist = null; // GET /historical-data's data object

  function scenario() {
    const body = {};
    for (const p of PARAMS) if (p.name in state.values) body[p.name] = state.values[p.name];
    return body;
  }

  const visibleCharts = () => state.charts.map((id) => CHART[id]);
  const partsOf = (values) => (values ? ('series' in values ? [values.series] : values.ratio) : []);

  function forecastOutputs() {
    const out = new Set();
    for (const c of visibleCharts()) for (const l of c.lines) partsOf(l.forecast).forEach((s) => out.add(s));
    // Nothing to draw still validates the inputs (the answer is small).
    if (!out.size) out.add('circ_supply');
    return [...out];
  }

  function analysisOutputs() {
    const out = new Set();
    for (const c of visibleCharts()) for (const l of c.lines) out.add(l.analysis_series);
    return [...out];
  }

  // The history a line draws: the data's when this snapshot has it, else the model's.
  const usesData = (line) => line.data_history && partsOf(line.data_history).every((f) => HISTORY_FIELDS.has(f));
  const modelHistoryOf = (line) => (usesData(line) ? null : line.model_history);

  // The echo of the current forecast's inputs (every value used), when it is current.
  function currentEcho() {
    const f = layers.forecast;
    return f.answer && f.done === f.want && f.status === 'current' ? f.answer.input : null;
  }

  function echoScenario(input) {
    const s = {};
    for (const p of PARAMS) if (p.name !== 'forecast_length_days' && p.name in input) s[p.name] = input[p.name];
    return s;
  }

  // Every request pins the snapshot the page was rendered on: the API may run as several
  // machines that refresh at different times, and one page must not draw two snapshots.
  const PIN = SNAP.snapshot_id ? { snapshot: SNAP.snapshot_id } : {};

  function wantedBodies() {
    const modelSeries = new Set();
    for (const c of CHARTS) for (const l of c.lines) partsOf(modelHistoryOf(l)).forEach((s) => modelSeries.add(s));
    const model = modelSeries.size
      ? { forecast_length_days: 1, output: [...modelSeries], ...('use_available_supply' in state.values ? { use_available_supply: state.values.use_available_supply } : {}), ...PIN }
      : null;
    const forecast = localErrors.size ? null : { ...scenario(), output: forecastOutputs(), ...PIN };
    // The analyses start from the echo of the forecast for the inputs as they are now, so
    // they wait for it (and never run for a scenario the charts no longer show).
    const f = layers.forecast;
    const forecastKey = forecast ? JSON.stringify(forecast) : null;
    const echo = f.answer && forecastKey !== null && f.done === forecastKey ? f.answer.input : null;
    let compare = null;
    let bands = null;
    if (echo && state.charts.length) {
      const days = echo.forecast_length_days;
      if (state.pinned) {
        compare = {
          baseline: { ...state.pinned, forecast_length_days: days },
          scenarios: { current: echoScenario(echo) },
          output: analysisOutputs(),
          resolution: 'weekly',
          ...PIN,
        };
      }
      if (state.bands) {
        const vary = {};
        for (const s of SPREAD) {
          const sd = s.knob === 'rbp' ? (echo.rbp * state.spread[s.name]) / 100 : state.spread[s.name];
          vary[s.knob] = s.knob === 'rbp' ? { dist: 'lognormal', sd } : { dist: 'normal', sd };
        }
        bands = {
          base: { ...echoScenario(echo), forecast_length_days: days },
          members: state.members, seed: 0, vary, output: analysisOutputs(), quantiles: QUANTILES, resolution: 'weekly',
          ...PIN,
        };
      }
    }
    return { model, forecast, compare, bands };
  }

  // Called on every change; coalesces changes and sends the next request when none is in flight.
  function changed(t) {
    if (t !== undefined) {
      version += 1;
      pendingInputs.push({ version, t });
    }
    writeUrl();
    if (timer === null) timer = setTimeout(pump, DEBOUNCE_MS);
    renderStatus();
  }

  function pump() {
    timer = null;
    const bodies = wantedBodies();
    for (const name of ORDER) {
      const layer = layers[name];
      layer.want = bodies[name] ? JSON.stringify(bodies[name]) : null;
      layer.wantVersion = version;
    }
    if (inflight) {
      // A forecast in flight is awaited: it is quick, and drawing it while a slider moves is
      // the point. An analysis in flight gives way to a forecast, and is dropped when its
      // inputs changed (closing the connection stops it on the server at its next chunk).
      const analysis = inflight.layer === 'compare' || inflight.layer === 'bands';
      const outdated = inflight.key !== layers[inflight.layer].want;
      if (analysis && (outdated || needs('forecast') || needs('model'))) inflight.controller.abort();
      renderStatus();
      return;
    }
    for (const name of ORDER) {
      if (needs(name)) {
        send(name);
        break;
      }
    }
    renderStatus();
  }

  const needs = (name) => {
    const l = layers[name];
    return l.want !== null && l.want !== l.done && l.want !== l.failed && l.want !== l.running;
  };

  // Sends the request `name`'s layer wants; `outside` leaves the one-at-a-time queue (used
  // once, at load, for the model's history).
  async function send(name, outside = false) {
    const layer = layers[name];
    const key = layer.want;
    const sentVersion = layer.wantVersion;
    const controller = new AbortController();
    if (outside) layer.running = key;
    else inflight = { layer: name, key, controller };
    layer.status = 'updating';
    renderStatus();
    let outcome;
    try {
      let response;
      let body = null;
      // A 409 with `held`: the machine that answered lacks the pinned snapshot; another replica
      // may hold it, so a couple more tries, then the page says so (see notHeld).
      for (let attempt = 1; ; attempt++) {
        response = await fetch(URLS[name], {
          method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: key, signal: controller.signal,
        });
        const text = await response.text();
        try {
          body = JSON.parse(text);
        } catch (_) {
          body = null;
        }
        if (!(response.status === 409 && body && body.held) || attempt >= NOT_HELD_ATTEMPTS) break;
        await new Promise((resolve) => setTimeout(resolve, 150 * attempt));
      }
      if (response.status === 409 && body && body.held) outcome = { ok: false, status: 409, notHeld: true, error: body.error, details: [] };
      else if (response.ok && body) outcome = { ok: true, body };
      else if (body && typeof body.error === 'string') outcome = { ok: false, status: response.status, error: body.error, details: body.details || [] };
      else outcome = { ok: false, status: response.status, error: `HTTP ${response.status} from ${URLS[name]}`, details: [] };
    } catch (err) {
      outcome = controller.signal.aborted ? { aborted: true } : { ok: false, status: 0, error: `could not reach the API (${err.message})`, details: [] };
    }
    if (outside) layer.running = null;
    else inflight = null;
    if (outcome.aborted) {
      layer.status = 'idle';
    } else if (outcome.ok) {
      answered(layer, key, outcome.body);
      // The next request (for inputs changed meanwhile) goes out before this answer is drawn,
      // so the API works on it while the page draws.
      pump();
      received(name, sentVersion);
      return;
    } else {
      layer.failed = key;
      layer.error = outcome;
      layer.status = outcome.status === 422 ? 'invalid' : 'failed';
      failed(name, outcome);
    }
    pump();
  }

  // ---------------------------------------------------------------- answers
  // `layer` now holds `answer`, the answer to the request `key`.
  function answered(layer, key, answer) {
    layer.answer = answer;
    layer.done = key;
    layer.failed = null;
    layer.error = null;
    layer.status = 'current';
  }

  function received(name, sentVersion) {
    if (name === 'forecast') {
      clearApiErrors();
      const snap = layers.forecast.answer.input.snapshot;
      if (snap && (snap.current_date !== SNAP.current_date || snap.source !== SNAP.source)) {
        showNotice(`The server now serves the ${snap.source} snapshot of ${snap.current_date}; this page shows the history of ${SNAP.current_date}. Reload the page to see the new one.`);
      }
      const explanation = layers.forecast.answer.input.explanation;
      $('explanation').textContent = explanation ? `Drawn: ${explanation}` : '';
    }
    if (name === 'compare' || name === 'bands') clearApiErrors(name);
    redraw(name === 'forecast' ? sentVersion : null);
  }

  const apiErrorFields = new Map(); // layer -> fields marked by its last 422

  function clearApiErrors(name) {
    for (const [layer, fields] of apiErrorFields) {
      if (name && layer !== name) continue;
      for (const f of fields) if (!localErrors.has(f)) showFieldError(f, null);
      apiErrorFields.delete(layer);
    }
    if (!name || name === 'forecast') hideNotice('api');
  }

  function failed(name, outcome) {
    if (outcome.notHeld) {
      notHeld();
      return;
    }
    clearApiErrors(name);
    const marked = [];
    const unplaced = [];
    const messages = new Map(); // input -> the API's messages for it
    for (const d of outcome.details) {
      // Analyses name fields by path (base.rr, scenarios.current.rr, vary.rbp.sd): the input
      // a person set is the parameter or spread named in the path.
      const parts = String(d.field).split('.');
      let field = parts.find((x) => x in PARAM) || null;
      if (parts[0] === 'vary' && parts[1]) field = `spread_${parts[1]}`;
      if (parts[0] === 'members') field = 'members';
      if (field && (inputs[field] || $(`err-${field}`))) messages.set(field, [...(messages.get(field) || []), d.message]);
      else unplaced.push(`${d.field}: ${d.message}`);
    }
    for (const [field, list] of messages) {
      showFieldError(field, list.join(' '));
      marked.push(field);
    }
    apiErrorFields.set(name, marked);
    const what = { model: 'The history', forecast: 'The forecast', compare: 'The comparison with the pinned scenario', bands: 'The bands' }[name];
    if (!marked.length || unplaced.length) {
      const detail = unplaced.length ? ` (${unplaced.join('; ')})` : '';
      showNotice(`${what} could not be updated: ${outcome.error}${detail}. What is drawn is for earlier inputs.`, 'api', true);
    }
    renderStatus();
    renderFigureStates();
  }

  let noticeKind = null;
  function showNotice(text, kind = 'info', retry = false) {
    const n = $('notice');
    n.textContent = text;
    if (retry) {
      const b = el('button', { type: 'button', text: 'Retry' });
      b.addEventListener('click', () => {
        for (const l of Object.values(layers)) l.failed = null;
        hideNotice('api');
        pump();
      });
      n.append(' ', b);
    }
    n.hidden = false;
    noticeKind = kind;
  }
  function hideNotice(kind) {
    if (noticeKind === kind) {
      $('notice').hidden = true;
      noticeKind = null;
    }
  }

  // ---------------------------------------------------------------- series on the weekly grid
  let grid = { days: [], xs: [] };

  function buildGrid() {
    const answer = layers.forecast.answer;
    let end = mondayOnOrBefore(CURRENT_DAY);
    if (answer && answer.input.sim_end_date) end = Math.max(end, dayOf(answer.input.sim_end_date));
    const days = [];
    for (let d = GRID_START; d <= end; d += 7) days.push(d);
    grid = { days, xs: days.map((d) => d * DAY_S) };
  }

  const empty = () => new Array(grid.days.length).fill(null);

  // Places values[i] (dated start + i * step days) on the grid's Mondays before `until`.
  function place(values, startIso, step, until = Infinity) {
    const out = empty();
    if (!values || !startIso) return out;
    const start = dayOf(startIso);
    for (let i = 0; i < values.length; i++) {
      const d = start + i * step;
      if (d >= until) break;
      if (d < GRID_START || (d - GRID_START) % 7 !== 0) continue;
      const k = (d - GRID_START) / 7;
      if (k < out.length) out[k] = values[i];
    }
    return out;
  }

  const ratio = (a, b) => a.map((x, i) => (finite(x) && finite(b[i]) ? x / b[i] : null));

  function combine(values, get) {
    if ('series' in values) return get(values.series);
    const [a, b] = values.ratio;
    return ratio(get(a), get(b));
  }

  function historyOf(line) {
    if (usesData(line)) {
      if (!hist) return empty();
      return combine(line.data_history, (f) => place(hist[f], hist.field_meta[f].start_date, hist.field_meta[f].timestep_days));
    }
    const model = layers.model.answer;
    if (!line.model_history || !model) return empty();
    // The model's values before the snapshot's current date depend on the history only (its
    // current date already uses the forecast's lock target and renewal rate), except the
    // 1-year series, whose last sector start date is 364 days before it.
    return combine(line.model_history, (s) => {
      const dates = model.input.series_dates[s];
      const until = s.startsWith('1y_') ? Infinity : CURRENT_DAY;
      return place(model.simulation_output[s], dates.start_date, dates.timestep_days, until);
    });
  }

  function forecastOf(line) {
    const f = layers.forecast.answer;
    if (!f) return empty();
    return combine(line.forecast, (s) => {
      const dates = f.input.series_dates[s];
      return dates ? place(f.simulation_output[s], dates.start_date, dates.timestep_days) : empty();
    });
  }

  function analysisOf(layerName, line, pick) {
    const a = layers[layerName].answer;
    const s = line.analysis_series;
    if (!a || !a.series_dates || !a.series_dates[s]) return null;
    const dates = a.series_dates[s];
    const values = pick(a, s);
    return values ? place(values, dates.start_date, dates.timestep_days) : null;
  }

  // ---------------------------------------------------------------- charts
  const figures = new Map(); // chart id -> {figure, plot, layout, cells, ...}
  let layoutKey = '';

  const alpha = (hex, a) => {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
  };

  // The series each chart draws, in uPlot's order, for the current options.
  function seriesLayout(chart) {
    const series = [];
    chart.lines.forEach((line, i) => {
      const color = PALETTE[i % PALETTE.length];
      series.push({ line, kind: 'history', label: `${line.label}, history`, color });
      series.push({ line, kind: 'forecast', label: `${line.label}, forecast`, color });
      if (state.pinned) series.push({ line, kind: 'pinned', label: `${line.label}, pinned scenario`, color });
      if (state.bands) for (const q of [5, 25, 75, 95]) series.push({ line, kind: `p${q}`, label: `${line.label}, p${q}`, color });
    });
    return series;
  }

  function markerPlugin() {
    return {
      hooks: {
        draw: [(u) => {
          const { ctx } = u;
          const top = u.bbox.top;
          const height = u.bbox.height;
          const line = (day, color, dash, label) => {
            const x = Math.round(u.valToPos(day * DAY_S, 'x', true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            ctx.save();
            ctx.strokeStyle = color;
            ctx.lineWidth = devicePixelRatio;
            ctx.setLineDash(dash.map((d) => d * devicePixelRatio));
            ctx.beginPath();
            ctx.moveTo(x, top);
            ctx.lineTo(x, top + height);
            ctx.stroke();
            if (label) {
              ctx.fillStyle = color;
              ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
              // Left of the line when it fits inside the plot, else right of it (on a phone
              // the date sits near the left edge and would cover the axis).
              const gap = 4 * devicePixelRatio;
              const fitsLeft = x - gap - ctx.measureText(label).width >= u.bbox.left;
              ctx.textAlign = fitsLeft ? 'right' : 'left';
              ctx.fillText(label, fitsLeft ? x - gap : x + gap, top + 12 * devicePixelRatio);
            }
            ctx.restore();
          };
          line(CURRENT_DAY, '#555', [4, 3], `snapshot ${SNAP.current_date}`);
          const at = readoutDay();
          if (at !== null) line(at, 'rgba(0,0,0,0.35)', [], null);
        }],
      },
    };
  }

  // uPlot shows dates in the browser's time zone; the API's dates are UTC days. Shifting each
  // timestamp by the zone's offset on that date shows them as UTC, and is much cheaper than
  // uPlot.tzDate's Intl conversion, which runs for every tick label of every redraw.
  const utcDate = (ts) => {
    const d = new Date(ts * 1e3);
    return new Date(d.getTime() + d.getTimezoneOffset() * 6e4);
  };

  const plotWidth = (f) => Math.max(260, Math.floor(f.plotBox.getBoundingClientRect().width));
  const chartHeight = () => (window.matchMedia('(max-width: 700px)').matches ? 200 : 230);

  function buildCharts() {
    if (!window.uPlot) return; // uPlot runs after this script; see start()
    const box = $('charts');
    for (const f of figures.values()) {
      nearby.unobserve(f.figure);
      if (f.plot) f.plot.destroy();
    }
    figures.clear();
    box.textContent = '';
    const built = [];
    const cols = ['history', 'forecast'];
    if (state.pinned) cols.push('pinned', 'diff');
    if (state.bands) cols.push('bands');
    const names = { history: 'history', forecast: 'forecast', pinned: 'pinned', diff: 'forecast − pinned', bands: 'p5 – p95' };
    for (const chart of visibleCharts()) {
      const layout = seriesLayout(chart);
      const plotBox = el('div', { class: 'plot', role: 'img', 'aria-label': chart.title });
      const badge = el('span', { class: 'badge', 'aria-hidden': 'true' });
      const legend = el('ul', { class: 'legend', 'aria-hidden': 'true' });
      chart.lines.forEach((line, i) => {
        const sw = el('span', { class: 'swatch' });
        sw.style.background = PALETTE[i % PALETTE.length];
        legend.append(el('li', {}, sw, `${line.label}: history (thin), forecast (thick)${state.pinned ? ', pinned (dashed)' : ''}${state.bands ? ', bands (shaded)' : ''}`));
      });
      // The value table's cells are made once here and only their text changes afterwards.
      const caption = el('caption');
      const head = el('tr', {}, el('th', { scope: 'col', text: 'line' }));
      for (const c of cols) head.append(el('th', { scope: 'col', text: names[c] }));
      const body = el('tbody');
      const cells = [];
      for (const line of chart.lines) {
        const row = el('tr', { 'data-line': line.id }, el('th', { scope: 'row', text: line.label }));
        for (const kind of cols) {
          const td = el('td', { 'data-kind': kind, text: '—' });
          row.append(td);
          cells.push({ line, kind, td, text: '—', value: null });
        }
        body.append(row);
      }
      const table = el('table', { class: 'readout' }, caption, el('thead', {}, head), body);
      const figure = el('figure', { class: 'chart', 'data-chart': chart.id },
        el('figcaption', {}, el('span', { class: 'title', text: chart.title }), ' ', el('span', { class: 'unit', text: chart.unit }), ' ', badge),
        plotBox, legend, table);
      box.append(figure);
      built.push({ chart, layout, figure, plotBox, badge, caption, cells, states: '', label: '' });
    }
    // One layout for all positions, then the plots (measuring after each plot would lay the
    // page out once per chart). The figures' boxes give the positions and the first plot box
    // the width of all (they share the charts' column): measuring inside a figure out of view
    // would lay out what its content-visibility skips.
    const rects = built.map((b) => b.figure.getBoundingClientRect());
    const width = built.length ? plotWidth(built[0]) : 0;
    built.forEach((b, k) => {
      b.visible = rects[k].top < window.innerHeight + NEAR_PX && rects[k].bottom > -NEAR_PX;
      const series = [{}];
      const bandList = [];
      b.layout.forEach((s, i) => {
        if (s.kind === 'history') series.push({ label: s.label, stroke: alpha(s.color, 0.75), width: 1.25, points: { show: false } });
        else if (s.kind === 'forecast') series.push({ label: s.label, stroke: s.color, width: 2.25, points: { show: false } });
        else if (s.kind === 'pinned') series.push({ label: s.label, stroke: alpha(s.color, 0.8), width: 1.5, dash: [6, 4], points: { show: false } });
        else series.push({ label: s.label, stroke: 'rgba(0,0,0,0)', width: 0, points: { show: false } });
        // Bands fill between quantile series (uPlot index = layout index + 1): p5..p95 light,
        // p25..p75 darker; the layout lists p5, p25, p75, p95 in that order.
        if (s.kind === 'p5') {
          const p5 = i + 1;
          bandList.push({ series: [p5 + 3, p5], fill: alpha(s.color, 0.13) });
          bandList.push({ series: [p5 + 2, p5 + 1], fill: alpha(s.color, 0.22) });
        }
      });
      const opts = {
        width,
        height: chartHeight(),
        tzDate: utcDate,
        legend: { show: false },
        cursor: { sync: { key: 'explore' }, drag: { x: false, y: false }, points: { show: false } },
        scales: { x: { time: true } },
        axes: [
          { stroke: '#333', grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' } },
          { stroke: '#333', label: b.chart.unit, size: 64, labelSize: 18, grid: { stroke: '#eee' }, ticks: { stroke: '#ccc' }, values: (u, ticks) => ticks.map(fmtTick) },
        ],
        series,
        bands: bandList,
        plugins: [markerPlugin()],
        hooks: { setCursor: [(u) => hover(u.cursor.idx)] },
      };
      // A chart out of view is made (uPlot's setup is most of a first draw's cost) and drawn
      // when it comes near the viewport; its box keeps the chart's height meanwhile.
      b.data = chartData(b.chart, b.layout);
      b.opts = opts;
      b.dirty = !b.visible;
      b.plot = null;
      if (b.visible) b.plot = new uPlot(opts, b.data, b.plotBox);
      else {
        b.figure.dataset.drawn = 'stale';
        b.plotBox.style.minHeight = `${opts.height}px`;
      }
      figures.set(b.chart.id, b);
      nearby.observe(b.figure);
    });
    layoutKey = currentLayoutKey();
    chartsWidth = box.clientWidth;
    scheduleFlush();
  }

  // Only the charts in or near the viewport are redrawn with each answer; the others keep
  // their data (which the value tables and downloads read) and are drawn when they come near
  // the viewport, or once the view rests. A dragged slider then redraws what one sees, not
  // every chart on a long page.
  const NEAR_PX = 200;
  const FLUSH_DELAY_MS = 300;
  const nearby = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const f = [...figures.values()].find((x) => x.figure === entry.target);
      if (!f) continue;
      f.visible = entry.isIntersecting;
      if (f.visible && f.dirty) draw(f);
    }
  }, { rootMargin: `${NEAR_PX}px 0px` });

  function draw(f) {
    if (f.plot) f.plot.setData(f.data);
    else {
      f.plot = new uPlot(f.opts, f.data, f.plotBox);
      f.plotBox.style.minHeight = '';
    }
    f.dirty = false;
    delete f.figure.dataset.drawn;
  }

  let flushTimer = null;
  function scheduleFlush() {
    clearTimeout(flushTimer);
    flushTimer = setTimeout(() => {
      for (const f of figures.values()) if (f.dirty) draw(f);
    }, FLUSH_DELAY_MS);
  }

  const currentLayoutKey = () => JSON.stringify([state.charts, !!state.pinned, state.bands]);

  function chartData(chart, layout) {
    const data = [grid.xs];
    for (const s of layout) {
      const line = s.line;
      let values;
      if (s.kind === 'history') values = historyOf(line);
      else if (s.kind === 'forecast') values = forecastOf(line);
      else if (s.kind === 'pinned') values = analysisOf('compare', line, (a, n) => a.series && a.series[n] && a.series[n].baseline);
      else values = analysisOf('bands', line, (a, n) => a.bands && a.bands[n] && a.bands[n][s.kind]);
      data.push(values || empty());
    }
    return data;
  }

  let firstDrawn = false;
  let chartsWidth = 0;

  // Everything the first chart needs: the history, the model's history (when some line draws
  // it) and a forecast. Until then nothing is drawn, so the first chart is drawn once.
  const loaded = () => hist && layers.forecast.answer && (layers.model.answer || !layers.model.want);

  // Redraws every chart from the latest answers; `drawnVersion` is the parameter version the
  // forecast answer was for (null when no new forecast arrived).
  function redraw(drawnVersion) {
    renderStatus();
    if (!window.uPlot || !loaded()) return;
    buildGrid();
    if (!firstDrawn) performance.mark('explore:data');
    if (currentLayoutKey() !== layoutKey || !firstDrawn) buildCharts();
    else {
      for (const f of figures.values()) {
        f.data = chartData(f.chart, f.layout);
        if (f.visible) draw(f);
        else {
          f.dirty = true;
          f.figure.dataset.drawn = 'stale';
        }
      }
      scheduleFlush();
    }
    renderReadouts();
    renderFigureStates();
    // uPlot draws in a microtask; the next animation frame is when the new chart is painted.
    requestAnimationFrame(() => {
      const now = performance.now();
      if (drawnVersion !== null) {
        while (pendingInputs.length && pendingInputs[0].version <= drawnVersion) {
          const { t } = pendingInputs.shift();
          performance.measure('explore:redraw', { start: t, end: now });
        }
      }
      if (!firstDrawn) {
        firstDrawn = true;
        performance.mark('explore:first-chart');
        document.documentElement.dataset.ready = 'true';
      }
    });
  }

  function layoutChanged() {
    writeUrl();
    if (firstDrawn) {
      buildGrid();
      buildCharts();
      renderReadouts();
      renderFigureStates();
    }
    changed();
  }

  // ---------------------------------------------------------------- readouts
  let hoverIdx = null;
  function hover(idx) {
    const next = idx === null || idx === undefined || idx < 0 ? null : idx;
    if (next === hoverIdx) return;
    hoverIdx = next;
    renderReadouts();
  }

  function readoutIndex() {
    if (hoverIdx !== null) return hoverIdx;
    if (!grid.days.length) return null;
    if (state.at === null) return grid.days.length - 1;
    const k = Math.round((state.at - GRID_START) / 7);
    return Math.min(Math.max(k, 0), grid.days.length - 1);
  }
  const readoutDay = () => {
    const k = readoutIndex();
    return k === null ? null : grid.days[k];
  };

  // Sets a property only when it changes: every write to the DOM can cost a style pass.
  const put = (node, key, value) => {
    if (node[key] !== value) node[key] = value;
  };

  function syncAtSlider() {
    const at = $('at');
    put(at, 'max', String(Math.max(0, grid.days.length - 1)));
    const k = readoutIndex();
    if (k !== null && hoverIdx === null) put(at, 'value', String(k));
  }

  // Fills the value tables for the readout date; `moveMarker` also redraws the charts' marker
  // of that date (a hover needs no marker: uPlot draws its own cursor).
  function renderReadouts(moveMarker = false) {
    syncAtSlider();
    const k = readoutIndex();
    if (k === null) return;
    const day = grid.days[k];
    const iso = isoOf(day);
    const when = day <= CURRENT_DAY ? 'history' : 'forecast';
    put($('at-date'), 'textContent', `${iso} (${when})`);
    const at = $('at');
    if (at.getAttribute('aria-valuetext') !== `${iso}, ${when}`) at.setAttribute('aria-valuetext', `${iso}, ${when}`);
    for (const f of figures.values()) {
      const data = f.data;
      const valueOf = (line, kind) => {
        const i = f.layout.findIndex((s) => s.line === line && s.kind === kind);
        return i < 0 ? null : data[i + 1][k];
      };
      put(f.caption, 'textContent', `${f.chart.title} on ${iso} (${f.chart.unit})`);
      for (const cell of f.cells) {
        let value = null;
        let text;
        let extra = null;
        if (cell.kind === 'diff') {
          const a = valueOf(cell.line, 'forecast');
          const b = valueOf(cell.line, 'pinned');
          value = finite(a) && finite(b) ? a - b : null;
          text = fmt(value);
        } else if (cell.kind === 'bands') {
          const lo = valueOf(cell.line, 'p5');
          const hi = valueOf(cell.line, 'p95');
          extra = [finite(lo) ? String(lo) : null, finite(hi) ? String(hi) : null];
          text = finite(lo) && finite(hi) ? `${fmt(lo)} – ${fmt(hi)}` : '—';
        } else {
          value = valueOf(cell.line, cell.kind);
          text = fmt(value);
        }
        const raw = finite(value) ? String(value) : null;
        if (cell.value !== raw) {
          if (raw === null) delete cell.td.dataset.value;
          else cell.td.dataset.value = raw;
          cell.value = raw;
        }
        if (extra) {
          for (const [key, v] of [['lo', extra[0]], ['hi', extra[1]]]) {
            if (v === null) delete cell.td.dataset[key];
            else if (cell.td.dataset[key] !== v) cell.td.dataset[key] = v;
          }
        }
        if (cell.text !== text) {
          cell.td.textContent = text;
          cell.text = text;
        }
      }
      const label = describeChart(f, iso);
      if (f.label !== label) {
        f.plotBox.setAttribute('aria-label', label);
        f.label = label;
      }
      if (moveMarker && !f.dirty && f.plot) f.plot.redraw(false, false);
    }
  }

  function describeChart(f, iso) {
    const fc = layers.forecast.answer;
    const end = fc && fc.input.sim_end_date ? `, forecast to ${fc.input.sim_end_date}` : '';
    return `${f.chart.title} in ${f.chart.unit}: history from ${SNAP.start_date} to ${SNAP.current_date}${end}. ${f.chart.description} The table below gives the values on ${iso}.`;
  }

  // ---------------------------------------------------------------- status
  function forecastState() {
    const f = layers.forecast;
    if (localErrors.size) return 'invalid';
    if (f.status === 'invalid' && f.failed === f.want) return 'invalid';
    if (f.status === 'failed' && f.failed === f.want) return 'failed';
    if (f.answer && f.done === f.want && f.want !== null && timer === null) return 'current';
    return 'updating';
  }

  function layerState(name, enabled) {
    if (!enabled) return 'off';
    const l = layers[name];
    if (l.want === null) return forecastState() === 'current' ? 'current' : 'waiting';
    if (l.failed === l.want) return l.status;
    return l.answer && l.done === l.want && timer === null ? 'current' : 'updating';
  }

  let statusTimer = null;
  let statusMessage = '';
  function renderStatus() {
    const fs = forecastState();
    const bs = layerState('bands', state.bands);
    const ps = layerState('compare', !!state.pinned);
    const body = document.body.dataset;
    if (body.state !== fs) body.state = fs;
    if (body.bandsState !== bs) body.bandsState = bs;
    if (body.pinState !== ps) body.pinState = ps;
    const text = {
      current: 'Forecast up to date for the inputs shown.',
      updating: 'Updating the forecast…',
      invalid: 'The inputs are not valid (see the marked field); the charts show the last valid scenario.',
      failed: 'The forecast could not be updated; the charts show an earlier answer.',
    }[fs];
    const extra = [];
    if (state.pinned) extra.push(ps === 'current' ? 'comparison up to date' : ps === 'failed' || ps === 'invalid' ? 'comparison failed' : 'comparison updating…');
    if (state.bands) extra.push(bs === 'current' ? 'bands up to date' : bs === 'failed' || bs === 'invalid' ? 'bands failed' : 'bands updating…');
    const message = extra.length ? `${text} (${extra.join(', ')})` : text;
    const status = $('status');
    if (status.dataset.state !== fs) status.dataset.state = fs;
    put(status, 'textContent', message);
    // The live region (the same words, for screen readers) speaks only once a state has lasted
    // a moment, so a dragged slider does not make it repeat "updating" on every step.
    if (message !== statusMessage) {
      statusMessage = message;
      clearTimeout(statusTimer);
      statusTimer = setTimeout(() => put($('status-live'), 'textContent', message), fs === 'updating' ? 400 : 150);
    }
    const current = fs === 'current';
    put($('download-csv'), 'disabled', !current);
    put($('download-json'), 'disabled', !current);
    put($('pin'), 'disabled', !state.pinned && !current);
    renderFigureStates();
  }

  function renderFigureStates() {
    const fs = forecastState();
    const bs = layerState('bands', state.bands);
    const ps = layerState('compare', !!state.pinned);
    const key = `${fs} ${bs} ${ps}`;
    const sub = [];
    if (state.pinned && ps !== 'current') sub.push(ps === 'failed' || ps === 'invalid' ? 'pinned: failed' : 'pinned: updating');
    if (state.bands && bs !== 'current') sub.push(bs === 'failed' || bs === 'invalid' ? 'bands: failed' : 'bands: updating');
    const label = { current: '', updating: 'updating…', invalid: 'not current: invalid inputs', failed: 'not current: request failed' }[fs];
    for (const f of figures.values()) {
      if (f.states === key) continue;
      f.states = key;
      f.figure.dataset.state = fs;
      f.figure.dataset.bandsState = bs;
      f.figure.dataset.pinState = ps;
      f.figure.setAttribute('aria-busy', fs === 'updating' ? 'true' : 'false');
      f.badge.textContent = [label, ...sub].filter(Boolean).join(' · ');
    }
  }

  // ---------------------------------------------------------------- pin
  function togglePin() {
    if (state.pinned) {
      state.pinned = null;
    } else {
      const echo = currentEcho();
      if (!echo) return;
      state.pinned = echoScenario(echo);
    }
    renderPin();
    layoutChanged();
  }

  function renderPin() {
    const b = $('pin');
    b.setAttribute('aria-pressed', state.pinned ? 'true' : 'false');
    b.textContent = state.pinned ? 'Unpin the scenario' : 'Pin this scenario';
    const note = $('pin-note');
    if (state.pinned) {
      const parts = PARAMS.filter((p) => p.name in state.pinned).map((p) => `${p.name} ${p.kind === 'bool' ? state.pinned[p.name] : fmt(state.pinned[p.name])}`);
      note.textContent = `Pinned scenario (dashed lines, via /analyze/compare): ${parts.join(', ')}.`;
      note.hidden = false;
    } else {
      note.hidden = true;
    }
  }

  // ---------------------------------------------------------------- downloads and link
  function shown() {
    const dates = grid.days.map(isoOf);
    const charts = [];
    for (const f of figures.values()) {
      const series = f.layout.map((s, i) => ({
        line: s.line.id, line_label: s.line.label, kind: s.kind, values: f.data[i + 1].map((v) => (finite(v) ? v : null)),
      }));
      charts.push({ id: f.chart.id, title: f.chart.title, unit: f.chart.unit, series });
    }
    return { dates, charts };
  }

  function download(kind) {
    const { dates, charts } = shown();
    const stamp = SNAP.current_date;
    let blob;
    let name;
    if (kind === 'json') {
      const doc = {
        page: location.href,
        snapshot: SNAP,
        scenario: layers.forecast.answer ? layers.forecast.answer.input : null,
        pinned: state.pinned,
        bands: state.bands ? { members: state.members, spread: state.spread, quantiles: QUANTILES, seed: 0 } : null,
        timestep_days: 7,
        dates,
        charts,
      };
      blob = new Blob([JSON.stringify(doc, null, 1)], { type: 'application/json' });
      name = `mechafil-explore-${stamp}.json`;
    } else {
      const quote = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
      const header = ['date'];
      const columns = [];
      for (const c of charts) {
        for (const s of c.series) {
          header.push(quote(`${c.title}: ${s.line_label} ${s.kind} (${c.unit})`));
          columns.push(s.values);
        }
      }
      const rows = [header.join(',')];
      dates.forEach((d, i) => rows.push([d, ...columns.map((col) => (col[i] === null ? '' : String(col[i])))].join(',')));
      blob = new Blob([rows.join('\n') + '\n'], { type: 'text/csv' });
      name = `mechafil-explore-${stamp}.csv`;
    }
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async function copyLink() {
    flushUrl();
    try {
      await navigator.clipboard.writeText(location.href);
      $('status-live').textContent = 'Link copied: it reproduces this view.';
      $('copy-link').textContent = 'Link copied';
    } catch (_) {
      $('status-live').textContent = 'Copy the address in the address bar: it reproduces this view.';
      $('copy-link').textContent = 'Copy the address bar';
    }
    setTimeout(() => ($('copy-link').textContent = 'Copy link to this view'), 2000);
  }

  // The server no longer holds the snapshot this page was rendered on (its data was refreshed):
  // nothing more can be drawn on it, and a reload starts afresh on the new one.
  function notHeld() {
    showNotice(`This page was loaded on the snapshot of ${SNAP.current_date} (${SNAP.snapshot_id}), which the server no longer holds: its data has been refreshed. Reload the page to continue on the new data.`, 'snapshot');
    const reload = el('button', { type: 'button', text: 'Reload' });
    reload.addEventListener('click', () => window.location.reload());
    $('notice').append(' ', reload);
    renderStatus();
  }

  // ---------------------------------------------------------------- start
  async function loadHistory() {
    const fields = [...HISTORY_FIELDS].join(',');
    const pin = SNAP.snapshot_id ? `&snapshot=${encodeURIComponent(SNAP.snapshot_id)}` : '';
    try {
      let response;
      let body;
      for (let attempt = 1; ; attempt++) {
        response = await fetch(`/historical-data?fields=${encodeURIComponent(fields)}${pin}`, { headers: { accept: 'application/json' } });
        body = await response.json();
        if (!(response.status === 409 && body.held) || attempt >= NOT_HELD_ATTEMPTS) break;
        await new Promise((resolve) => setTimeout(resolve, 150 * attempt));
      }
      if (response.status === 409 && body.held) {
        notHeld();
        return;
      }
      if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
      hist = body.data;
      redraw(null);
    } catch (err) {
      showNotice(`The history could not be loaded: ${err.message}. Reload the page to try again.`, 'history');
    }
  }

  // JSON with every object's keys in order, to compare requests however their keys were added.
  const canonical = (value) => JSON.stringify(value, (_, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
    : v));

  // Takes the answers the server rendered into the page (src/http/explore/first_answers.rs):
  // the API's answers to the page's first requests, each with its request. One is used only
  // when the page's own first request is that very request (a link may set knobs or charts).
  function takeFirstAnswers(bodies) {
    const answers = JSON.parse($('explore-answers').textContent);
    if (!answers) return;
    if (canonical(answers.history.request.fields) === canonical([...HISTORY_FIELDS])) hist = answers.history.answer.data;
    for (const name of ['model', 'forecast']) {
      const given = answers[name];
      if (!bodies[name] || !given || canonical(bodies[name]) !== canonical(given.request)) continue;
      const key = JSON.stringify(bodies[name]);
      layers[name].want = key;
      answered(layers[name], key, given.answer);
      received(name, version);
    }
  }

  function start() {
    readUrl();
    // The requests go first, so the network works while the page builds its controls and the
    // browser runs uPlot (which comes after this script). At load, the history, the model's
    // history and the first forecast are asked for at once (unless the page came with their
    // answers); after that, one request at a time.
    const bodies = wantedBodies();
    takeFirstAnswers(bodies);
    if (!hist) loadHistory();
    if (bodies.model && layers.model.done === null) {
      layers.model.want = JSON.stringify(bodies.model);
      send('model', true);
    }
    pump();
    buildControls();
    renderPin();
    if (notices.length) showNotice(notices.join(' '), 'url');
    writeUrl();
    // The charts need uPlot, which runs after this script, before DOMContentLoaded.
    if (window.uPlot) redraw(null);
    else document.addEventListener('DOMContentLoaded', () => redraw(null));
    // A new width resizes the charts (their height follows the content, which must not).
    let resizeTimer = null;
    new ResizeObserver(() => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        const width = $('charts').clientWidth;
        if (width === chartsWidth || !figures.size) return;
        chartsWidth = width;
        const w = plotWidth(figures.values().next().value);
        for (const f of figures.values()) {
          if (f.plot) f.plot.setSize({ width: w, height: chartHeight() });
          else Object.assign(f.opts, { width: w, height: chartHeight() });
        }
      }, 50);
    }).observe($('charts'));
  }

  start();
})();
