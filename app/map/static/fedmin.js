/* fedmin map: styles, legend, control panel, popups and search for /map.
 *
 * The page (app/map/page.py, built with folium) creates the Leaflet map and its layers
 * through `fedmin.layers.*` and then calls `fedmin.init(map, layers, control, config)`.
 * Every colour is defined once here; the legend is generated from the same tables, so
 * the two cannot drift apart. No data is inlined in the page: large layers come as vector
 * tiles from the API, ranked cells from /rankings, records from the items endpoint.
 */
(function (global) {
  'use strict';

  // --- colours: one table per classified attribute --------------------------------------

  const AGENCY = {
    BLM: ['#e6a02e', 'Bureau of Land Management'],
    USFS: ['#2e8b57', 'Forest Service'],
    NPS: ['#8e5ea2', 'National Park Service'],
    FWS: ['#3a9bd5', 'Fish and Wildlife Service'],
    DOD: ['#8c6d46', 'Defense'],
    BOR: ['#2b5ea7', 'Bureau of Reclamation'],
    other: ['#9a9a9a', 'other federal'],
  };
  const DEV_STATUS = {
    producer: ['#d7191c', 'producer'],
    past_producer: ['#f28e2b', 'past producer'],
    prospect: ['#1f78b4', 'prospect'],
    occurrence: ['#7fc8e8', 'occurrence'],
    plant: ['#6a3d9a', 'plant'],
    unknown: ['#bdbdbd', 'unknown'],
  };
  const ENTRY = {
    closed: ['#b2182b', 'closed (withdrawn): hatched', 'fedmin-hatch-closed'],
    restricted: ['#e08214', 'restricted: sparse hatch', 'fedmin-hatch-restricted'],
  };
  const LINES = {
    roads: ['#5b5b5b', 'roads (state highways)', null, 1.4],
    railroads: ['#1a1a1a', 'railroads', '6 3', 1.3],
    transmission_lines: ['#e7298a', 'transmission lines', '2 2', 1.2],
  };
  // Sequential ramp (ColorBrewer YlOrRd) for scores and components in [0, 1].
  const RAMP = ['#ffffb2', '#fed976', '#feb24c', '#fd8d3c', '#f03b20', '#bd0026'];

  const rampColor = (t) => {
    const v = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
    return RAMP[Math.min(RAMP.length - 1, Math.floor(v * RAMP.length))];
  };
  const agencyColor = (a) => (AGENCY[a] || AGENCY.other)[0];
  const statusColor = (s) => (DEV_STATUS[s] || DEV_STATUS.unknown)[0];
  const truthy = (v) => v === true || v === 'true' || v === 1 || v === '1';

  // Leaflet >= 1.8 positions events on small circle markers at their getLatLng(); the
  // point symbolizers of Leaflet.VectorGrid 1.3 are circle markers without a LatLng, so a
  // click on a deposit threw. Hiding getLatLng makes Leaflet use the mouse position.
  const createLayer = L.VectorGrid.prototype._createLayer;
  L.VectorGrid.prototype._createLayer = function (feat, pxPerExtent, layerStyle) {
    const layer = createLayer.call(this, feat, pxPerExtent, layerStyle);
    if (layer && layer.getLatLng) layer.getLatLng = undefined;
    return layer;
  };

  // --- vector-tile styles, by style key (the page names one per layer) ------------------

  const STYLES = {
    federal_lands: (p) => ({
      fill: true, fillColor: agencyColor(p.agency), fillOpacity: 0.3,
      color: agencyColor(p.agency), weight: 0.7, opacity: 0.9,
    }),
    // Only where land status is known just on the mapped units (most of Alaska): a grey
    // veil; where all federal land is mapped nothing is drawn.
    land_coverage: (p) => (p.coverage === 'units_only' ? {
      fill: true, fillColor: '#7f7f7f', fillOpacity: 0.22, color: '#5f5f5f', weight: 1,
      opacity: 0.8, dashArray: '2 4',
    } : []),
    closed_lands: (p) => {
      const entry = ENTRY[p.mineral_entry];
      if (!entry) return [];  // not drawn: only closed and restricted land is marked
      return {
        fill: true, fillColor: `url(#${entry[2]})`, fillOpacity: 1,
        color: entry[0], weight: 1.2, opacity: 0.9, dashArray: '4 3',
      };
    },
    claims: (p) => ({
      fill: true, fillColor: '#ffd92f', fillOpacity: p.status === 'active' ? 0.45 : 0.15,
      color: '#b8860b', weight: 0.5,
    }),
    states: () => ({ fill: false, color: '#303030', weight: 1.3, opacity: 0.9 }),
    counties: () => ({ fill: false, color: '#8a8a8a', weight: 0.5, opacity: 0.8 }),
    deposits: (p, z) => {
      const critical = truthy(p.critical);
      const radius = z >= 10 ? 6 : z >= 7 ? 4.5 : 3.5;
      return {
        radius, fill: true, fillColor: statusColor(p.dev_status), fillOpacity: 0.95,
        color: critical ? '#000000' : '#ffffff', weight: critical ? Math.max(1.2, radius / 3) : 0.6,
        opacity: 1,
      };
    },
  };
  for (const [key, [color, , dash, weight]] of Object.entries(LINES)) {
    STYLES[key] = () => ({ color, weight, dashArray: dash, opacity: 0.9, fill: false });
  }

  // --- small helpers ----------------------------------------------------------------------

  const esc = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
  const fmt = (v, digits = 2) => (Number.isFinite(Number(v)) && v !== null && v !== ''
    ? Number(v).toFixed(digits) : '–');
  const km = (metres) => (Number.isFinite(Number(metres)) && metres !== null
    ? `${(Number(metres) / 1000).toFixed(1)} km` : 'unknown (outside coverage)');
  const label = (s) => String(s ?? '').replace(/_/g, ' ');
  const el = (tag, attrs = {}, html = '') => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (html) node.innerHTML = html;
    return node;
  };
  const fill = (template, values) => template.replace(/\{(\w+)\}/g,
    (m, key) => (key in values ? encodeURIComponent(values[key]) : m));

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: 'application/geo+json, application/json' } });
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
      throw new Error(`${response.status}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
    }
    return response.json();
  }

  // --- layer factories called by the page --------------------------------------------------

  const fedmin = { STYLES, AGENCY, DEV_STATUS, ENTRY, LINES, RAMP, rampColor, layers: {} };
  let config = null;  // set by init(); factories run before it and read only their options

  /** A protobuf vector-tile layer of one collection; `query` is appended to the URL. */
  fedmin.layers.vectorTiles = function (options) {
    const style = STYLES[options.style];
    const layer = L.vectorGrid.protobuf(options.url, {
      pane: options.pane,
      interactive: Boolean(options.interactive),
      rendererFactory: L.svg.tile,  // SVG: hatch patterns and per-path events work
      // Any MVT layer name maps to this layer's style (tiles carry one layer each).
      vectorTileLayerStyles: new Proxy({}, { get: () => style }),
      maxNativeZoom: options.maxNativeZoom,
      minZoom: options.minZoom,
      attribution: options.attribution,
      // Fetch once the view settles, not for every intermediate zoom of an animation.
      updateWhenZooming: false,
      updateWhenIdle: true,
    });
    layer.fedminOptions = options;
    return layer;
  };

  /** A raster (PNG) tile overlay, e.g. the prospectivity surface or the optional OSM base. */
  fedmin.layers.rasterTiles = function (options) {
    const layer = L.tileLayer(options.url, {
      pane: options.pane, opacity: options.opacity ?? 1, attribution: options.attribution,
      maxNativeZoom: options.maxNativeZoom, maxZoom: 18, errorTileUrl: '',
    });
    layer.fedminOptions = options;
    return layer;
  };

  /** The ranked cells: filled from /rankings by the panel (never inlined in the page). */
  fedmin.layers.rankedCells = function (options) {
    const layer = L.geoJSON(null, { pane: options.pane, style: cellStyle });
    layer.fedminOptions = options;
    return layer;
  };

  // --- ranked cells -------------------------------------------------------------------------

  const state = {
    commodity: '', criticalList: '', listInForce: '', weights: {}, cellKm: null, minOpenLand: null,
    colorBy: 'score', ranking: null, requestId: 0,
  };

  /** The critical-mineral list in force on the map (its id, title, size and citation):
   * the one of the last applied filter, which the tiles, the surface and the ranking use. */
  const criticalList = () => config.critical_lists.find((l) => l.id === state.listInForce) || config.critical_lists[0];
  const isCritical = (p) => (Array.isArray(p.critical_lists) ? p.critical_lists.includes(state.listInForce) : truthy(p.critical));

  function cellValue(p) {
    if (state.colorBy === 'score') return Number(p.score);
    const components = p.components || {};
    return Number(components[state.colorBy] ?? p[state.colorBy]);
  }

  function cellStyle(feature) {
    const p = feature.properties || {};
    const pareto = truthy(p.pareto);
    return {
      fillColor: rampColor(cellValue(p)), fillOpacity: 0.7,
      color: pareto ? '#08306b' : '#6b6b6b', weight: pareto ? 3 : 0.6, opacity: 1,
    };
  }

  function rankingParams() {
    const params = new URLSearchParams();
    const names = config.params;
    if (state.commodity) params.set(names.commodity, state.commodity);
    params.set(names.critical_list, state.criticalList);
    if (names.weights_style === 'prefixed') {
      for (const [k, v] of Object.entries(state.weights)) params.set(`${names.weights}${k}`, v);
    } else {
      params.set(names.weights, Object.entries(state.weights).map(([k, v]) => `${k}:${v}`).join(','));
    }
    params.set(names.cell_km, state.cellKm);
    params.set(names.min_open_land, state.minOpenLand);
    params.set(names.top, config.top);
    return params;
  }

  const cellId = (feature) => feature.id ?? feature.properties?.cell_id ?? feature.properties?.id;

  function componentsOf(p) {
    if (p.components && typeof p.components === 'object') return p.components;
    return Object.fromEntries(config.components.map((c) => [c, p[c]]));
  }

  /** The engine's self-explanation: weights used, inputs and caveats (any shape shown). */
  function explanationHtml(explanation) {
    if (!explanation || typeof explanation !== 'object') return explanation ? `<p>${esc(explanation)}</p>` : '';
    const inputs = explanation.inputs || {};
    const distances = inputs.distances_m || {};
    const facts = [
      ['deposits in reach', inputs.n_deposits],
      ['active claims', inputs.claims_covered === false ? 'unknown (no claims data)' : inputs.active_claims],
      ['open federal land', Number.isFinite(inputs.available_land_share) ? `${Math.round(inputs.available_land_share * 100)} % of the known land` : 'unknown'],
      ...Object.entries(inputs.land_shares || {}).filter(([, v]) => v > 0.005)
        .map(([k, v]) => [`land ${label(k)}`, `${Math.round(v * 100)} %`]),
      ...Object.entries(distances).map(([k, v]) => [`to ${label(k)}`, v === null ? 'no data' : km(v)]),
    ].filter(([, v]) => v !== undefined && v !== null);
    const notes = (explanation.notes || []).map((n) => `<li>${esc(n)}</li>`).join('');
    return `<table class="fedmin-table fedmin-inputs">${facts.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
      ${notes ? `<ul class="fedmin-notes">${notes}</ul>` : ''}
      ${explanation.formula ? `<p class="fedmin-formula">${esc(explanation.formula)}</p>` : ''}`;
  }

  function cellPopupHtml(feature) {
    const p = feature.properties || {};
    const id = cellId(feature);
    const used = p.explanation?.weights_used || {};
    const rows = Object.entries(componentsOf(p)).map(([k, v]) =>
      `<tr><th title="${esc(config.component_help[k] || '')}">${esc(label(k))}</th><td>${fmt(v)}</td>
        <td class="fedmin-w">weight ${fmt(used[k] ?? state.weights[k])}</td></tr>`).join('');
    const api = `${fill(config.api.ranking, { cellId: id })}?${rankingParams()}`;
    return `<div class="fedmin-popup fedmin-cell-popup" data-cell-id="${esc(id)}">
      <h3>Cell ${esc(id)}</h3>
      ${p.place_label ? `<p class="fedmin-place">${esc(p.place_label)}</p>` : ''}
      ${p.land_flag ? `<p class="fedmin-flag">land status ${esc(label(p.land_flag))}: ${Math.round((p.land_unknown_share || 0) * 100)} % of the land not mapped</p>` : ''}
      <p><b>rank ${esc(p.rank ?? '–')}</b> · score <b>${fmt(p.score, 3)}</b>${truthy(p.pareto) ? ' · <span class="fedmin-badge">Pareto</span>' : ''}</p>
      <table class="fedmin-table">${rows}</table>
      ${explanationHtml(p.explanation)}
      <div class="fedmin-top-deposits"><b>Top deposits</b><ol><li>loading…</li></ol></div>
      <p class="fedmin-links"><a href="${esc(api)}" target="_blank" rel="noopener">API record</a></p>
    </div>`;
  }

  /** The cell's contributing deposits, by contribution, from /rankings/{cellId}. */
  async function fillTopDeposits(popup, feature) {
    const list = popup.getElement()?.querySelector('.fedmin-top-deposits ol');
    if (!list) return;
    try {
      const cell = await getJSON(`${fill(config.api.ranking, { cellId: cellId(feature) })}?${rankingParams()}`);
      const deposits = (cell.contributing_deposits?.features || []).slice(0, config.top_deposits);
      list.innerHTML = deposits.length ? deposits.map((d) => {
        const q = d.properties || {};
        return `<li><a href="#" data-deposit-id="${esc(d.id ?? q.id)}">${esc(q.name || d.id)}</a>
          <small>${esc(label(q.dev_status))}${q.in_cell ? '' : ' · nearby'} · contribution ${fmt(q.contribution, 3)}</small></li>`;
      }).join('') : '<li>none</li>';
    } catch (error) {
      list.innerHTML = `<li class="fedmin-none">${esc(error.message)}</li>`;
    }
    list.querySelectorAll('a[data-deposit-id]').forEach((a) => a.addEventListener('click', (e) => {
      e.preventDefault();
      showDeposit(a.dataset.depositId, { fly: true });
    }));
  }

  function bindCell(feature, layer) {
    layer.on('click', (e) => {
      const popup = L.popup({ maxWidth: 380, maxHeight: 420, autoPanPadding: [40, 40] })
        .setLatLng(e.latlng || layer.getBounds().getCenter())
        .setContent(cellPopupHtml(feature));
      popup.openOn(fedmin.map);
      fillTopDeposits(popup, feature);
    });
  }

  async function rerank() {
    const requestId = ++state.requestId;
    const status = document.getElementById('fedmin-status');
    status.textContent = 'ranking…';
    status.className = 'fedmin-status busy';
    updateExports();
    const started = performance.now();
    try {
      const result = await getJSON(`${config.api.rankings}?${rankingParams()}`);
      if (requestId !== state.requestId) return;  // a newer request superseded this one
      state.ranking = result;
      drawCells();
      const cells = fedmin.layer('ranked_cells');
      if (config.fit_first_ranking && !state.fitted && cells && cells.getLayers().length) {
        state.fitted = true;
        fedmin.map.fitBounds(cells.getBounds(), { padding: [20, 20] });
      }
      const n = (result.features || []).length;
      status.textContent = `${n} cells ranked in ${((performance.now() - started) / 1000).toFixed(1)} s`;
      status.className = 'fedmin-status ok';
    } catch (error) {
      if (requestId !== state.requestId) return;
      status.textContent = `ranking failed: ${error.message}`;
      status.className = 'fedmin-status error';
    }
  }

  function drawCells() {
    const layer = fedmin.layer('ranked_cells');
    if (!layer) return;
    layer.clearLayers();
    layer.options.onEachFeature = bindCell;
    if (state.ranking) layer.addData(state.ranking);
    layer.setStyle(cellStyle);
    const summary = document.getElementById('fedmin-ranking-summary');
    const features = state.ranking?.features || [];
    summary.innerHTML = features.slice(0, 5).map((f) => {
      const p = f.properties || {};
      const flag = p.land_flag ? ' <span class="fedmin-badge" title="land status partly unknown">?</span>' : '';
      return `<li data-cell-id="${esc(cellId(f))}">#${esc(p.rank)} <b>${fmt(p.score, 3)}</b>${flag} ${esc(p.place_label || cellId(f))}</li>`;
    }).join('');
    updateLegendRamp();
  }

  // --- deposits: popup from the full record, search -------------------------------------------

  function depositPopupHtml(feature) {
    const p = feature.properties || {};
    const id = feature.id ?? p.id;
    const commodities = Array.isArray(p.commodities) ? p.commodities.join(', ') : (p.commodities || '–');
    const units = Array.isArray(p.land_unit_names) ? p.land_unit_names.join(', ') : p.land_unit_names;
    const land = [p.agency, units, p.designation && label(p.designation)].filter(Boolean).map(esc).join(' · ');
    const entry = p.mineral_entry ? `<span class="fedmin-entry fedmin-entry-${esc(p.mineral_entry)}">${esc(label(p.mineral_entry))}</span>` : '–';
    const dist = (kind) => p[`dist_${kind}_m`];
    const source = p.source_url
      ? `<a href="${esc(p.source_url)}" target="_blank" rel="noopener">source record (${esc((p.source || '').toUpperCase())})</a>` : '';
    return `<div class="fedmin-popup fedmin-deposit-popup" data-deposit-id="${esc(id)}">
      <h3>${esc(p.name || id)}</h3>
      <table class="fedmin-table">
        <tr><th>commodities</th><td>${esc(commodities)}${isCritical(p) ? ` <span class="fedmin-badge" title="${esc(criticalList().title)}">critical</span>` : ''}</td></tr>
        <tr><th>dev status</th><td class="fedmin-dev-status"><span class="fedmin-dot" style="background:${statusColor(p.dev_status)}"></span>${esc(label(p.dev_status))}</td></tr>
        <tr><th>land</th><td>${land || 'not federal land'}</td></tr>
        <tr><th>mineral entry</th><td>${entry}</td></tr>
        <tr><th>to road</th><td>${km(dist('road'))}</td></tr>
        <tr><th>to railroad</th><td>${km(dist('rail'))}</td></tr>
        <tr><th>to power line</th><td>${km(dist('power'))}</td></tr>
        <tr><th>county</th><td>${esc([p.county, p.state].filter(Boolean).join(', ') || '–')}</td></tr>
      </table>
      <p class="fedmin-links"><a href="${esc(fill(config.api.item, { id }))}" target="_blank" rel="noopener">API record</a> ${source}</p>
    </div>`;
  }

  /** Fetch a deposit's full record and open its popup (vector tiles carry few properties). */
  async function showDeposit(id, { latlng = null, fly = false } = {}) {
    const feature = await getJSON(fill(config.api.item, { id }));
    const [lon, lat] = feature.geometry.coordinates;
    const at = latlng || L.latLng(lat, lon);
    if (fly) fedmin.map.setView(L.latLng(lat, lon), Math.max(fedmin.map.getZoom(), 11));
    fedmin.popup = L.popup({ maxWidth: 360 }).setLatLng(fly ? L.latLng(lat, lon) : at)
      .setContent(depositPopupHtml(feature)).openOn(fedmin.map);
    return feature;
  }

  let searchTimer = null;
  function onSearchInput(event) {
    clearTimeout(searchTimer);
    const text = event.target.value.trim();
    const list = document.getElementById('fedmin-search-results');
    if (text.length < 2) { list.innerHTML = ''; return; }
    searchTimer = setTimeout(async () => {
      const params = new URLSearchParams({ [config.params.search]: text, limit: config.search_limit });
      try {
        const result = await getJSON(`${config.api.search}?${params}`);
        const features = result.features || [];
        list.innerHTML = features.length ? features.map((f) => {
          const p = f.properties || {};
          const id = f.id ?? p.id;
          return `<li><a href="#" data-deposit-id="${esc(id)}">${esc(p.name || id)}</a>
            <small>${esc(label(p.dev_status))} · ${esc([p.county, p.state].filter(Boolean).join(', '))} · ${esc(id)}</small></li>`;
        }).join('') : '<li class="fedmin-none">no deposit of that name</li>';
        list.querySelectorAll('a[data-deposit-id]').forEach((a) => a.addEventListener('click', (e) => {
          e.preventDefault();
          showDeposit(a.dataset.depositId, { fly: true });
        }));
      } catch (error) {
        list.innerHTML = `<li class="fedmin-none">search failed: ${esc(error.message)}</li>`;
      }
    }, 250);
  }

  // --- commodity filter: applied to the deposit tiles and the prospectivity raster -------------

  function withQuery(url, params) {
    const query = params.toString();
    return query ? `${url}${url.includes('?') ? '&' : '?'}${query}` : url;
  }

  function applyCommodityToLayers() {
    for (const layer of Object.values(fedmin.layerByKey)) {
      const options = layer.fedminOptions || {};
      if (!options.filterable) continue;
      const params = new URLSearchParams();
      if (state.commodity) params.set(options.commodityParam || config.params.commodity, state.commodity);
      if (state.criticalList !== config.critical_list_default) params.set(config.params.critical_list, state.criticalList);
      const url = withQuery(options.url, params);
      if (layer._url !== url) layer.setUrl(url);
    }
  }

  // --- exports -------------------------------------------------------------------------------

  function updateExports() {
    const params = rankingParams();
    document.querySelectorAll('#fedmin-exports a[data-format]').forEach((a) => {
      const query = new URLSearchParams(params);
      query.set(config.params.format, a.dataset.format);
      a.href = `${config.api.shortlist}?${query}`;
    });
  }

  // --- control panel -------------------------------------------------------------------------

  function panelHtml() {
    const commodityOptions = ['<option value="">all commodities</option>',
      `<option value="${esc(config.critical_value)}">critical minerals (of the list below)</option>`,
      ...config.commodities.map((c) => `<option value="${esc(c)}">${esc(label(c))}</option>`)].join('');
    const sliders = config.components.map((c) => `
      <label class="fedmin-slider" title="${esc(config.component_help[c] || '')}">
        <span>${esc(label(c))}</span>
        <input type="range" min="0" max="1" step="0.05" name="w-${esc(c)}" data-component="${esc(c)}" value="${state.weights[c]}">
        <output id="fedmin-w-${esc(c)}">${fmt(state.weights[c])}</output>
      </label>`).join('');
    const colorBy = ['score', ...config.components].map((c) =>
      `<option value="${esc(c)}">${esc(c === 'score' ? 'combined score' : label(c))}</option>`).join('');
    const lists = config.critical_lists.map((l) =>
      `<option value="${esc(l.id)}" title="${esc(l.citation)}">${esc(l.title)}</option>`).join('');
    const exports = config.export_formats.map((f) =>
      `<a class="fedmin-button" data-format="${esc(f)}" download href="#">${esc(f.toUpperCase())}</a>`).join('');
    return `
      <div class="fedmin-panel-head"><b>fedmin</b> <span>mineral deposits on federal land</span>
        <button type="button" class="fedmin-collapse" title="collapse/expand">–</button></div>
      <div class="fedmin-panel-body">
        <section><h4>Find a deposit</h4>
          <input id="fedmin-search" type="search" placeholder="deposit name, e.g. Black Bear" autocomplete="off">
          <ul id="fedmin-search-results" class="fedmin-results"></ul></section>
        <section><h4>Filter and rank</h4>
          <label>Commodity <select id="fedmin-commodity">${commodityOptions}</select></label>
          <label>Critical-mineral list <select id="fedmin-critical-list">${lists}</select></label>
          <p id="fedmin-critical-note" class="fedmin-status"></p>
          <div class="fedmin-weights">${sliders}</div>
          <label title="leave out cells whose open or unknown-status land is below this share; 0 shows every cell">Min. open land <input id="fedmin-min-open-land" type="number" min="0" max="1" step="0.01" value="${state.minOpenLand}"></label>
          <label>Cell size (km) <input id="fedmin-cell-km" type="number" min="${config.cell_km.min}" max="${config.cell_km.max}" step="1" value="${state.cellKm}"></label>
          <label>Colour cells by <select id="fedmin-color-by">${colorBy}</select></label>
          <button type="button" id="fedmin-apply" class="fedmin-button fedmin-primary">Apply and re-rank</button>
          <p id="fedmin-status" class="fedmin-status"></p>
          <ol id="fedmin-ranking-summary" class="fedmin-summary"></ol></section>
        <section><h4>Download the shortlist</h4><div id="fedmin-exports">${exports}</div></section>
      </div>`;
  }

  const Panel = L.Control.extend({
    options: { position: 'topleft' },
    onAdd() {
      const div = el('div', { class: 'fedmin-panel', id: 'fedmin-panel' }, panelHtml());
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    },
  });

  /** Put the selected list in force and say so (panel note and legend). */
  function showCriticalList() {
    state.listInForce = state.criticalList;
    const list = criticalList();
    const note = document.getElementById('fedmin-critical-note');
    note.textContent = `Critical minerals: ${list.title}`;
    note.title = list.citation;
  }

  function wirePanel() {
    document.getElementById('fedmin-search').addEventListener('input', onSearchInput);
    document.querySelectorAll('.fedmin-weights input[type=range]').forEach((input) => {
      input.addEventListener('input', () => {
        state.weights[input.dataset.component] = Number(input.value);
        document.getElementById(`fedmin-w-${input.dataset.component}`).textContent = fmt(input.value);
        updateExports();
      });
    });
    document.getElementById('fedmin-commodity').addEventListener('change', (e) => {
      state.commodity = e.target.value;
      updateExports();
    });
    document.getElementById('fedmin-critical-list').addEventListener('change', (e) => {
      state.criticalList = e.target.value;
      updateExports();
    });
    document.getElementById('fedmin-cell-km').addEventListener('change', (e) => {
      const v = Number(e.target.value);
      state.cellKm = Math.min(config.cell_km.max, Math.max(config.cell_km.min, Number.isFinite(v) ? v : config.cell_km.default));
      e.target.value = state.cellKm;
      updateExports();
    });
    document.getElementById('fedmin-min-open-land').addEventListener('change', (e) => {
      const v = Number(e.target.value);
      state.minOpenLand = Math.min(1, Math.max(0, Number.isFinite(v) ? v : config.min_open_land));
      e.target.value = state.minOpenLand;
      updateExports();
    });
    document.getElementById('fedmin-color-by').addEventListener('change', (e) => {
      state.colorBy = e.target.value;
      drawCells();
    });
    document.getElementById('fedmin-apply').addEventListener('click', () => {
      showCriticalList();
      syncLegend();
      applyCommodityToLayers();
      rerank();
    });
    const panel = document.getElementById('fedmin-panel');
    panel.querySelector('.fedmin-collapse').addEventListener('click', (e) => {
      panel.classList.toggle('collapsed');
      e.target.textContent = panel.classList.contains('collapsed') ? '+' : '–';
    });
    document.getElementById('fedmin-critical-list').value = state.criticalList;
    showCriticalList();
    updateExports();
  }

  // --- legend ----------------------------------------------------------------------------------

  const swatch = (style) => `<span class="fedmin-swatch" style="${style}"></span>`;
  const line = (color, dash, weight) =>
    `<svg class="fedmin-line" width="28" height="10"><line x1="0" y1="5" x2="28" y2="5" stroke="${color}" stroke-width="${weight + 1}" ${dash ? `stroke-dasharray="${dash}"` : ''}/></svg>`;
  const hatch = (id, color) =>
    `<svg class="fedmin-line" width="28" height="14"><rect width="28" height="14" fill="url(#${id})" stroke="${color}" stroke-dasharray="4 3"/></svg>`;
  const dot = (color, ring) =>
    `<svg class="fedmin-line" width="16" height="16"><circle cx="8" cy="8" r="5" fill="${color}" stroke="${ring || '#fff'}" stroke-width="${ring ? 2.2 : 1}"/></svg>`;

  function legendSections() {
    const rows = (items) => items.map(([sym, text]) => `<li>${sym}<span>${esc(text)}</span></li>`).join('');
    return {
      federal_lands: ['Federal lands by agency', rows(Object.values(AGENCY).map(([c, t]) =>
        [swatch(`background:${c};opacity:0.55;border:1px solid ${c}`), t]))],
      land_coverage: ['Land-status coverage', rows([
        [swatch('background:#7f7f7f;opacity:0.45;border:1px dashed #5f5f5f'), 'status known only on mapped units (elsewhere unknown)'],
        [swatch('background:transparent;border:1px solid #bbb'), 'all federal land mapped (off units: non-federal)']])],
      closed_lands: ['Closed to mineral entry', rows(Object.values(ENTRY).map(([c, t, id]) => [hatch(id, c), t]))],
      deposits: ['Deposits by development status', rows([
        ...Object.values(DEV_STATUS).map(([c, t]) => [dot(c), t]),
        [dot('#ffffff', '#000000'), `black ring: critical mineral (${criticalList().id})`]])],
      roads: ['Infrastructure', rows(Object.values(LINES).map(([c, t, d, w]) => [line(c, d, w), t]))],
      ranked_cells: ['Ranked cells', `<div class="fedmin-ramp">${RAMP.map((c) => `<span style="background:${c}"></span>`).join('')}</div>
        <div class="fedmin-ramp-labels"><span id="fedmin-ramp-label">combined score</span><span>0 → 1</span></div>
        <ul>${rows([[swatch('border:3px solid #08306b;background:transparent'), 'Pareto-optimal cell']])}</ul>`],
      claims: ['Mining claims', rows([[swatch('background:#ffd92f;border:1px solid #b8860b'), 'BLM claim (active darker)']])],
      states: ['Boundaries', rows([[line('#303030', null, 1.3), 'state'], [line('#8a8a8a', null, 0.5), 'county']])],
      ...rasterLegends(),
    };
  }

  /** One ramp per raster, in the colours its tiles are rendered with (sent by the page). */
  function rasterLegends() {
    const number = (v) => (Math.abs(v) >= 10 ? Math.round(v).toLocaleString('en-US') : fmt(v));
    return Object.fromEntries(Object.entries(config.rasters || {}).map(([key, r]) => [key, [r.title,
      `<div class="fedmin-ramp">${r.colors.map((c) => `<span style="background:${c}"></span>`).join('')}</div>
       <div class="fedmin-ramp-labels"><span>${number(r.range[0])}</span><span>${esc(r.units)}</span><span>${number(r.range[1])}</span></div>`]]));
  }

  function updateLegendRamp() {
    const labelNode = document.getElementById('fedmin-ramp-label');
    if (labelNode) labelNode.textContent = state.colorBy === 'score' ? 'combined score' : label(state.colorBy);
  }

  // Top right, under the layer control (added first), so the two never overlap.
  const Legend = L.Control.extend({
    options: { position: 'topright' },
    onAdd() {
      const div = el('div', { class: 'fedmin-legend', id: 'fedmin-legend' });
      const sections = legendSections();
      div.innerHTML = `<div class="fedmin-legend-head"><b>Legend</b><button type="button" class="fedmin-collapse">–</button></div>` +
        Object.entries(sections).map(([key, [title, body]]) =>
          `<section data-legend="${key}"><h4>${esc(title)}</h4>${body.startsWith('<li') ? `<ul>${body}</ul>` : body}</section>`).join('');
      div.querySelector('.fedmin-collapse').addEventListener('click', (e) => {
        div.classList.toggle('collapsed');
        e.target.textContent = div.classList.contains('collapsed') ? '+' : '–';
      });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    },
  });

  /** Dim a legend section while none of its layers is on the map. */
  function syncLegend() {
    const legend = document.getElementById('fedmin-legend');
    if (!legend) return;
    const sectionOf = { railroads: 'roads', transmission_lines: 'roads', counties: 'states' };
    const on = new Set();
    for (const [key, layer] of Object.entries(fedmin.layerByKey)) {
      if (fedmin.map.hasLayer(layer)) on.add(sectionOf[key] || key);
    }
    legend.querySelectorAll('section[data-legend]').forEach((s) => {
      s.classList.toggle('off', !on.has(s.dataset.legend));
    });
  }

  function addHatchPatterns() {
    const defs = Object.values(ENTRY).map(([color, , id], i) => `
      <pattern id="${id}" patternUnits="userSpaceOnUse" width="${i ? 12 : 7}" height="${i ? 12 : 7}" patternTransform="rotate(45)">
        <line x1="0" y1="0" x2="0" y2="${i ? 12 : 7}" stroke="${color}" stroke-width="${i ? 1.5 : 2.5}" stroke-opacity="0.85"/>
      </pattern>`).join('');
    const svg = el('div', { 'aria-hidden': 'true' },
      `<svg width="0" height="0" style="position:absolute"><defs>${defs}</defs></svg>`);
    document.body.appendChild(svg.firstChild);
  }

  // --- entry point ------------------------------------------------------------------------------

  /** Wire the page: `layers` maps layer keys (deposits, ranked_cells, ...) to Leaflet layers. */
  fedmin.init = function (map, layers, layerControl, pageConfig) {
    config = pageConfig;
    fedmin.map = map;
    fedmin.config = config;
    fedmin.layerByKey = layers;
    fedmin.layerControl = layerControl;
    fedmin.layer = (key) => layers[key];
    state.weights = { ...config.weights };
    state.cellKm = config.cell_km.default;
    state.minOpenLand = config.min_open_land;
    state.criticalList = config.critical_list_default;
    fedmin.state = state;

    addHatchPatterns();
    map.attributionControl.setPrefix(false);
    new Panel().addTo(map);
    new Legend().addTo(map);
    wirePanel();

    const deposits = layers.deposits;
    if (deposits) {
      deposits.on('click', (e) => {
        const id = e.layer?.properties?.[config.deposit_id_property];
        if (id != null) showDeposit(id, { latlng: e.latlng }).catch((err) => console.warn(`deposit ${id}: ${err.message}`));
      });
    }
    map.on('overlayadd overlayremove', syncLegend);
    syncLegend();
    rerank();
  };

  /** True when no zoom animation runs and every tile layer on the map has its tiles
   * (lets tests and scripts wait for a drawn map instead of sleeping). */
  fedmin.isIdle = () => !fedmin.map._animatingZoom && Object.values(fedmin.layerByKey)
    .every((layer) => !fedmin.map.hasLayer(layer) || !layer.isLoading || !layer.isLoading());
  fedmin.showDeposit = (id) => showDeposit(id, { fly: true });
  fedmin.rerank = rerank;
  global.fedmin = fedmin;
}(window));
