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

  // --- colours: the page sends them (app/map/palette.py, CVD-tested); read at draw time ---

  let P = null;  // config.palette, set by init() before any tile is drawn
  const rampColor = (t) => {
    const v = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0));
    return P.ramp[Math.min(P.ramp.length - 1, Math.floor(v * P.ramp.length))];
  };
  const agencyColor = (a) => (P.agency[a] || P.agency.other)[0];
  const statusColor = (s) => (P.dev_status[s] || P.dev_status.unknown)[0];
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
      fill: true, fillColor: agencyColor(p.agency), fillOpacity: 0.38,
      color: agencyColor(p.agency), weight: 0.6, opacity: 0.8,
    }),
    // Only where land status is known just on the mapped units (most of Alaska): a grey
    // veil; where all federal land is mapped nothing is drawn.
    land_coverage: (p) => (p.coverage === 'units_only' ? {
      fill: true, fillColor: P.land_coverage.fill, fillOpacity: 0.22, color: P.land_coverage.line,
      weight: 1, opacity: 0.8, dashArray: '2 4',
    } : []),
    closed_lands: (p) => {
      const entry = P.entry[p.mineral_entry];
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
    land: () => ({ fill: true, fillColor: P.basemap.land, fillOpacity: 1, stroke: false }),
    lakes: () => ({ fill: true, fillColor: P.basemap.water, fillOpacity: 1, stroke: false }),
    rivers: (p, z) => ({ color: P.basemap.river, weight: z >= 8 ? 1.6 : 1, opacity: 0.9, fill: false }),
    states: (p, z) => ({ fill: false, color: P.basemap.state_line, weight: z >= 7 ? 1.6 : 1.1, opacity: 0.9 }),
    counties: () => ({ fill: false, color: P.basemap.county_line, weight: 0.5, opacity: 0.8 }),
    deposits: (p, z) => {
      const critical = truthy(p.critical);
      // small at the national zooms, where a 25 km cell is 3-6 px: the dots must not hide it
      const radius = z >= 10 ? 5.5 : z >= 7 ? 4 : z >= 6 ? 3 : 2;
      return {
        radius, fill: true, fillColor: statusColor(p.dev_status), fillOpacity: 0.95,
        color: critical ? P.deposit_ring.critical : P.deposit_ring.other,
        weight: critical ? Math.max(1.4, radius / 2.5) : 0.7, opacity: 1,
      };
    },
  };
  for (const key of ['roads', 'railroads', 'transmission_lines']) {
    STYLES[key] = () => {
      const [color, , dash, weight] = P.lines[key];
      return { color, weight, dashArray: dash, opacity: 0.9, fill: false };
    };
  }
  /** Coverage: one style per topic, drawing only that topic's area (outline + light fill). */
  const coverageStyle = (topic) => (p) => {
    if (p.topic !== topic) return [];
    const [color] = P.coverage[topic] || ['#444444'];
    return { fill: true, fillColor: color, fillOpacity: 0.08, color, weight: 2, opacity: 0.9, dashArray: '8 4' };
  };

  /** Deposit-source coverage: only the sources that hold every known deposit of an area
   * (state surveys, part of a state, the regional boxes); the national ones cover the whole
   * country thinly and are named in the legend instead. */
  STYLES.coverage_deposits = (p) => (String(p.coverage).startsWith('national')
    ? [] : coverageStyle('deposits')({ topic: 'deposits' }));

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
      const error = new Error(`${response.status}: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
      // a 503 with Retry-After: the server is busy or still computing (and will cache it)
      const retryAfter = response.status === 503 ? Number(response.headers.get('Retry-After')) : NaN;
      if (retryAfter >= 0) error.retryAfterS = retryAfter;
      throw error;
    }
    return response.json();
  }

  // --- layer factories called by the page --------------------------------------------------

  const fedmin = { STYLES, rampColor, layers: {} };
  let config = null;  // set by init(); factories run before it and read only their options

  const styleOf = (key) => STYLES[key] || (key.startsWith('coverage_') ? coverageStyle(key.slice(9)) : undefined);

  /** A protobuf vector-tile layer of one collection; `query` is appended to the URL.
   * Drawn on canvas (one bitmap per tile, not one DOM element per feature) unless the
   * style needs SVG (the hatch patterns of closed land). */
  fedmin.layers.vectorTiles = function (options) {
    const style = styleOf(options.style);
    const layer = L.vectorGrid.protobuf(options.url, {
      pane: options.pane,
      interactive: Boolean(options.interactive),
      rendererFactory: options.svg ? L.svg.tile : L.canvas.tile,
      // Any MVT layer name maps to this layer's style (tiles carry one layer each).
      vectorTileLayerStyles: new Proxy({}, { get: () => style }),
      getFeatureId: (feature) => feature.properties.id,  // lets fedmin.drawnFeatures count them
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

  /** The offline base map: land (the states), lakes, rivers, county and state lines, all
   * vector tiles from fedmin itself; one entry in the layer control. */
  fedmin.layers.basemap = function (options) {
    const parts = options.parts.map((part) => fedmin.layers.vectorTiles(part));
    const group = L.layerGroup(parts);
    group.isLoading = () => parts.some((part) => part._map && part.isLoading && part.isLoading());
    group.fedminOptions = options;
    return group;
  };

  /** Place names: the populated places (one GeoJSON request, a few hundred points), each
   * labelled from the zoom Natural Earth suggests (`min_zoom`), biggest first, labels that
   * would overlap an already placed one skipped. */
  fedmin.layers.placeLabels = function (options) {
    const group = L.layerGroup([], { pane: options.pane });
    let places = null;
    let loading = null;
    const draw = () => {
      const map = group._map;
      if (!map || !places) return;
      group.clearLayers();
      const z = map.getZoom();
      const view = map.getBounds().pad(0.05);
      const placed = [];
      const overlaps = (a) => placed.some((b) => a[0] < b[2] && a[2] > b[0] && a[1] < b[3] && a[3] > b[1]);
      for (const place of places) {
        if (place.minZoom > z + options.zoomOffset || !view.contains(place.latlng)) continue;
        const big = place.population >= options.bigPopulation;
        const pt = map.latLngToContainerPoint(place.latlng);
        const width = place.name.length * (big ? 7.6 : 6.6) + 10;
        const box = [pt.x - 4, pt.y - 9, pt.x + width, pt.y + 9];
        if (overlaps(box)) continue;
        placed.push(box);
        L.marker(place.latlng, {
          pane: options.pane, interactive: false, keyboard: false,
          icon: L.divIcon({
            className: `fedmin-place${big ? ' fedmin-place-big' : ''}`, iconSize: null,
            html: `<i></i><span>${esc(place.name)}</span>`,
          }),
        }).addTo(group);
        if (placed.length >= options.maxLabels) break;
      }
    };
    const load = () => {
      loading = getJSON(options.url).then((collection) => {
        places = (collection.features || []).map((f) => ({
          name: f.properties.name || '',
          population: Number(f.properties.population) || 0,
          minZoom: Number.isFinite(Number(f.properties.min_zoom)) ? Number(f.properties.min_zoom) : 99,
          latlng: L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]),
        })).sort((a, b) => b.population - a.population);
        draw();
      }).catch((error) => console.warn(`place names: ${error.message}`)).finally(() => { loading = null; });
    };
    group.onAdd = function (map) {
      L.LayerGroup.prototype.onAdd.call(this, map);
      map.on('moveend zoomend', draw);
      if (places) draw(); else if (!loading) load();
    };
    group.onRemove = function (map) {
      map.off('moveend zoomend', draw);
      L.LayerGroup.prototype.onRemove.call(this, map);
    };
    group.isLoading = () => loading !== null;
    group.labelCount = () => group.getLayers().length;
    group.fedminOptions = options;
    return group;
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
  //
  // The cells' geometry is fetched once per filter and grid (`/rankings`); a change of the
  // weights alone asks for the scores only (`geometry=false`) and restyles the drawn cells.

  const state = {
    commodity: '', criticalList: '', listInForce: '', weights: {}, cellKm: null, minOpenLand: null, minUndevelopedShare: null,
    colorBy: 'score', ranking: null, requestId: 0,
    geometryKey: null, geometry: new Map(), undrawn: 0,
    range: [0, 1],  // the ramp spans the drawn cells' values (the legend shows them)
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
      fillColor: rampColor((cellValue(p) - state.range[0]) / (state.range[1] - state.range[0])), fillOpacity: 0.78,
      color: pareto ? P.pareto : P.cell_outline, weight: pareto ? 2.6 : 0.5, opacity: pareto ? 1 : 0.7,
    };
  }

  /** The parameters that fix the cells' geometry (filter and grid), as a key. */
  function geometryParams() {
    const params = new URLSearchParams();
    const names = config.params;
    if (state.commodity) params.set(names.commodity, state.commodity);
    params.set(names.critical_list, state.criticalList);
    params.set(names.min_open_land, state.minOpenLand);
    params.set(names.min_undeveloped_share, state.minUndevelopedShare);
    params.set(names.cell_km, state.cellKm);
    return params;
  }

  /** The URL of one cell, /rankings/{cellId}: the ranking's parameters but the cell size,
   * which the id fixes (the endpoint refuses parameters it does not take). */
  function cellUrl(id) {
    const params = rankingParams();
    params.delete(config.params.cell_km);
    return `${fill(config.api.ranking, { cellId: id })}?${params}`;
  }

  function rankingParams() {
    const params = geometryParams();
    const names = config.params;
    if (names.weights_style === 'prefixed') {
      for (const [k, v] of Object.entries(state.weights)) params.set(`${names.weights}${k}`, v);
    } else {
      params.set(names.weights, Object.entries(state.weights).map(([k, v]) => `${k}:${v}`).join(','));
    }
    params.set(names.top, config.top);
    return params;
  }

  const cellId = (feature) => feature.id ?? feature.properties?.cell_id ?? feature.properties?.id;
  const cellName = (p) => p.place_label || null;  // county, land unit, nearest place (geo.places)

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
    const api = cellUrl(id);
    const name = cellName(p);
    return `<div class="fedmin-popup fedmin-cell-popup" data-cell-id="${esc(id)}">
      <h3>${esc(name || `Cell ${id}`)}</h3>
      ${name ? `<p class="fedmin-cell-id">cell ${esc(id)}</p>` : ''}
      ${p.land_flag ? `<p class="fedmin-flag">land status ${esc(label(p.land_flag))}: ${Math.round((p.land_unknown_share || 0) * 100)} % of the land not mapped</p>` : ''}
      <p><b>rank ${esc(p.rank ?? '–')}</b> · score <b>${fmt(p.score, 3)}</b>${truthy(p.pareto) ? ' · <span class="fedmin-badge">Pareto</span>' : ''}</p>
      <table class="fedmin-table">${rows}</table>
      <div class="fedmin-explanation">${p.explanation ? explanationHtml(p.explanation) : ''}</div>
      <div class="fedmin-top-deposits"><b>Top deposits</b><ol><li>loading…</li></ol></div>
      <p class="fedmin-links"><a href="${esc(api)}" target="_blank" rel="noopener">API record</a></p>
    </div>`;
  }

  /** The cell's explanation and contributing deposits, from /rankings/{cellId}. */
  async function fillCellDetails(popup, feature) {
    const node = popup.getContent();
    const list = node?.querySelector?.('.fedmin-top-deposits ol');
    if (!list) return;
    try {
      const cell = await getJSON(cellUrl(cellId(feature)));
      const explanation = node.querySelector('.fedmin-explanation');
      if (explanation && cell.properties?.explanation) explanation.innerHTML = explanationHtml(cell.properties.explanation);
      const deposits = (cell.contributing_deposits?.features || []).slice(0, config.top_deposits);
      list.innerHTML = deposits.length ? deposits.map((d) => {
        const q = d.properties || {};
        return `<li><a href="#" data-deposit-id="${esc(d.id ?? q.id)}">${esc(q.name || d.id)}</a>
          <small>${esc(label(q.dev_status))}${q.in_cell ? '' : ' · nearby'} · contribution ${fmt(q.contribution, 3)}</small></li>`;
      }).join('') : '<li>none</li>';
      popup.update();
    } catch (error) {
      list.innerHTML = `<li class="fedmin-none">${esc(error.message)}</li>`;
    }
    list.querySelectorAll('a[data-deposit-id]').forEach((a) => a.addEventListener('click', (e) => {
      e.preventDefault();
      showDeposit(a.dataset.depositId, { fly: true });
    }));
  }

  /** Popup options that keep it whole on screen and clear of the panel and the legend. */
  function popupOptions() {
    const size = fedmin.map.getSize();
    const panel = document.getElementById('fedmin-panel');
    const right = document.querySelector('.leaflet-top.leaflet-right');
    const panelRight = panel && !panel.classList.contains('collapsed') ? panel.getBoundingClientRect().right : 0;
    const rightWidth = right ? right.getBoundingClientRect().width : 0;
    const maxWidth = Math.max(220, Math.min(380, size.x - 60));
    // Keep clear of the side controls when the free middle is wide enough for the popup.
    const roomy = size.x - panelRight - rightWidth - 40 >= maxWidth;
    return {
      maxWidth, minWidth: Math.min(240, maxWidth), maxHeight: Math.max(180, Math.min(420, size.y - 110)),
      autoPan: true,
      autoPanPaddingTopLeft: L.point(roomy ? panelRight + 12 : 12, 12),
      autoPanPaddingBottomRight: L.point(roomy ? rightWidth + 16 : 12, 28),
    };
  }

  /** A popup's content as a DOM node, not a string: Leaflet re-renders string content on
   * every update (auto-pan, resize), which wiped what fillCellDetails had filled in. */
  function contentNode(html) {
    const holder = document.createElement('div');
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  function openCellPopup(feature, latlng) {
    const popup = L.popup(popupOptions()).setLatLng(latlng).setContent(contentNode(cellPopupHtml(feature)));
    popup.openOn(fedmin.map);
    fillCellDetails(popup, feature);
    return popup;
  }

  function bindCell(feature, layer) {
    layer.on('click', (e) => {
      if (e.containerPoint && depositAt(e.containerPoint)) return;  // the map's click shows it
      openCellPopup(layer.feature, e.latlng || layer.getBounds().getCenter());
    });
  }

  function setStatus(text, kind) {
    const status = document.getElementById('fedmin-status');
    status.textContent = text;
    status.className = `fedmin-status ${kind}`;
  }

  /** True once the user (or a search) has moved the map away from its first view: the
   * first ranking then keeps that view instead of pulling the map back to the whole
   * country. Layout resizes pan the map a few pixels, which does not count. */
  function movedSinceInit() {
    const map = fedmin.map, first = state.initialView;
    if (!first) return false;
    const shift = map.latLngToContainerPoint(first.center).distanceTo(map.getSize().divideBy(2));
    return map.getZoom() !== first.zoom || shift > 50;
  }

  /** The bounds of a layer's features with every feature east of 0° moved a turn west:
   * the Aleutians' cells west of the antimeridian (and Guam's) sit beside Alaska rather
   * than across the world (a plain getBounds spanned -179° to 179°: the whole globe). */
  function westernBounds(group) {
    const bounds = L.latLngBounds([]);
    group.eachLayer((layer) => {
      const b = layer.getBounds();
      const shift = b.getCenter().lng > 0 ? -360 : 0;
      bounds.extend([[b.getSouth(), b.getWest() + shift], [b.getNorth(), b.getEast() + shift]]);
    });
    return bounds;
  }

  /** Re-rank: with the cells' geometry when the filter or grid changed (or `full`), else
   * scores only, restyling the cells already drawn. */
  async function rerank({ full = false } = {}) {
    const requestId = ++state.requestId;
    const key = geometryParams().toString();
    const withGeometry = full || key !== state.geometryKey;
    if (withGeometry) {  // a new filter: the tiles and the legend follow it
      showCriticalList();
      applyCommodityToLayers();
    }
    setStatus(withGeometry ? 'ranking…' : 're-weighting…', 'busy');
    updateExports();
    const started = performance.now();
    const params = rankingParams();
    if (!withGeometry) params.set(config.params.geometry, 'false');
    try {
      const result = await getJSON(`${config.api.rankings}?${params}`);
      if (requestId !== state.requestId) return;  // a newer request superseded this one
      if (withGeometry) {
        state.geometryKey = key;
        state.geometry = new Map(result.features.map((f) => [cellId(f), f.geometry]));
      }
      state.ranking = result;
      drawCells();
      const cells = fedmin.layer('ranked_cells');
      if (config.fit_first_ranking && !state.fitted && !movedSinceInit() && cells && cells.getLayers().length) {
        state.fitted = true;
        fedmin.map.fitBounds(westernBounds(cells), { padding: [20, 20] });
      }
      const n = (result.features || []).length;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const undrawn = state.undrawn ? ` · ${state.undrawn} new cells not drawn: Apply re-ranks and draws them` : '';
      setStatus(`${n} cells ${withGeometry ? 'ranked' : 're-weighted'} in ${seconds} s${undrawn}`, 'ok');
      updateLegendInfo();
    } catch (error) {
      if (requestId !== state.requestId) return;
      if (error.retryAfterS !== undefined) {  // busy or still computing: ask again, as told
        const wait = Math.min(Math.max(error.retryAfterS, 1), 30);
        setStatus(`${withGeometry ? 'ranking' : 're-weighting'}: the server is busy, asking again in ${wait} s…`, 'busy');
        setTimeout(() => { if (requestId === state.requestId) rerank({ full }); }, wait * 1000);
        return;
      }
      setStatus(`ranking failed: ${error.message}`, 'error');
    }
  }

  /** Draw the ranking's cells from the geometry already fetched: existing cells keep their
   * shapes and are restyled, cells that left the top are removed. */
  function drawCells() {
    const layer = fedmin.layer('ranked_cells');
    if (!layer) return;
    layer.options.onEachFeature = bindCell;
    const drawn = new Map(layer.getLayers().map((l) => [cellId(l.feature), l]));
    const keep = new Set();
    state.undrawn = 0;
    for (const feature of state.ranking?.features || []) {
      const id = cellId(feature);
      const geometry = state.geometry.get(id);
      if (!geometry) { state.undrawn += 1; continue; }
      keep.add(id);
      const existing = drawn.get(id);
      if (existing) existing.feature.properties = { ...existing.feature.properties, ...feature.properties };
      else layer.addData({ ...feature, geometry });
    }
    for (const [id, l] of drawn) if (!keep.has(id)) layer.removeLayer(l);
    const values = layer.getLayers().map((l) => cellValue(l.feature.properties)).filter(Number.isFinite);
    const [lo, hi] = values.length ? [Math.min(...values), Math.max(...values)] : [0, 1];
    state.range = hi - lo > 1e-9 ? [lo, hi] : [Math.max(0, lo - 0.5), Math.min(1, lo + 0.5) || 1];
    layer.setStyle(cellStyle);
    const ranked = layer.getLayers().sort((a, b) => a.feature.properties.rank - b.feature.properties.rank);
    ranked.forEach((l) => { if (truthy(l.feature.properties.pareto)) l.bringToFront(); });
    drawSummary();
    updateLegendInfo();
  }

  /** The best cells in the panel, by place name where the cell has one; each links to it. */
  function drawSummary() {
    const summary = document.getElementById('fedmin-ranking-summary');
    const features = (state.ranking?.features || []).slice(0, config.summary_cells);
    summary.innerHTML = features.map((f) => {
      const p = f.properties || {};
      const id = cellId(f);
      const name = cellName(p);
      const flag = p.land_flag ? ' <span class="fedmin-badge" title="land status partly unknown">?</span>' : '';
      return `<li data-cell-id="${esc(id)}"><a href="#" data-cell-id="${esc(id)}" title="${esc(id)}">${esc(name || id)}</a>
        <b>${fmt(p.score, 3)}</b>${flag}${truthy(p.pareto) ? ' <span class="fedmin-badge">P</span>' : ''}</li>`;
    }).join('');
    summary.querySelectorAll('a[data-cell-id]').forEach((a) => a.addEventListener('click', (e) => {
      e.preventDefault();
      showCell(a.dataset.cellId);
    }));
  }

  /** Zoom to a ranked cell and open its popup (its geometry from /rankings/{cellId} when
   * the cell is not drawn). */
  async function showCell(id) {
    const layer = fedmin.layer('ranked_cells');
    let target = layer.getLayers().find((l) => cellId(l.feature) === id);
    let feature = target?.feature;
    if (!feature) feature = await getJSON(cellUrl(id));
    const bounds = target ? target.getBounds() : L.geoJSON(feature).getBounds();
    fedmin.map.fitBounds(bounds, { maxZoom: 10, animate: false });
    return openCellPopup(feature, bounds.getCenter());
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

  /** The drawn deposit under a container point (within its radius plus `tolerance` px),
   * nearest first, or null. Deposits are drawn on canvas tiles that let clicks through to
   * the cells below, so the map finds the deposit under a click itself. */
  function depositAt(point, tolerance = 3) {
    const layer = fedmin.layer('deposits');
    if (!layer || !fedmin.map.hasLayer(layer) || !layer._vectorTiles) return null;
    const at = fedmin.map.containerPointToLayerPoint(point);
    let best = null;
    let bestDistance = Infinity;
    for (const renderer of Object.values(layer._vectorTiles)) {
      if (!renderer._map) continue;
      const local = at.subtract(renderer.getOffset());
      for (const { feature } of Object.values(renderer._features)) {
        if (!feature._point) continue;
        const distance = local.distanceTo(feature._point);
        if (distance <= (feature.options.radius || 4) + tolerance && distance < bestDistance) {
          best = feature;
          bestDistance = distance;
        }
      }
    }
    return best ? best.properties : null;
  }

  /** Fetch a deposit's full record and open its popup (vector tiles carry few properties). */
  async function showDeposit(id, { latlng = null, fly = false } = {}) {
    const feature = await getJSON(fill(config.api.item, { id }));
    const [lon, lat] = feature.geometry.coordinates;
    const at = latlng || L.latLng(lat, lon);
    if (fly) fedmin.map.setView(L.latLng(lat, lon), Math.max(fedmin.map.getZoom(), 11));
    fedmin.popup = L.popup(popupOptions()).setLatLng(fly ? L.latLng(lat, lon) : at)
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
          <label title="leave out worked ground: cells whose undeveloped share of the evidence is below this, and mining districts; 0 shows every cell">Min. undeveloped share <input id="fedmin-min-undeveloped-share" type="number" min="0" max="1" step="0.01" value="${state.minUndevelopedShare}"></label>
          <label>Cell size (km) <input id="fedmin-cell-km" type="number" min="${config.cell_km.min}" max="${config.cell_km.max}" step="1" value="${state.cellKm}"></label>
          <label>Colour cells by <select id="fedmin-color-by">${colorBy}</select></label>
          <button type="button" id="fedmin-apply" class="fedmin-button fedmin-primary" title="moving a weight restyles the cells at once; Apply re-ranks and redraws them">Apply and re-rank</button>
          <p id="fedmin-status" class="fedmin-status"></p>
          <h4>Best cells</h4>
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
    let reweightTimer = null;
    document.querySelectorAll('.fedmin-weights input[type=range]').forEach((input) => {
      input.addEventListener('input', () => {
        state.weights[input.dataset.component] = Number(input.value);
        document.getElementById(`fedmin-w-${input.dataset.component}`).textContent = fmt(input.value);
        updateExports();
        // Weights alone: restyle from the scores (no geometry) once the slider rests.
        clearTimeout(reweightTimer);
        if (Object.values(state.weights).some((w) => w > 0)) {
          reweightTimer = setTimeout(() => rerank(), config.reweight_delay_ms);
        }
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
    // the two gates: a share in [0, 1], the default when the input is not a number
    [['fedmin-min-open-land', 'minOpenLand', 'min_open_land'],
      ['fedmin-min-undeveloped-share', 'minUndevelopedShare', 'min_undeveloped_share']].forEach(([id, key, setting]) => {
      document.getElementById(id).addEventListener('change', (e) => {
        const v = Number(e.target.value);
        state[key] = Math.min(1, Math.max(0, Number.isFinite(v) ? v : config[setting]));
        e.target.value = state[key];
        updateExports();
      });
    });
    document.getElementById('fedmin-color-by').addEventListener('change', (e) => {
      state.colorBy = e.target.value;
      drawCells();
    });
    document.getElementById('fedmin-apply').addEventListener('click', () => rerank({ full: true }));
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
  const dot = (color, ring, ringWidth = 1) =>
    `<svg class="fedmin-line" width="16" height="16"><circle cx="8" cy="8" r="5" fill="${color}" stroke="${ring}" stroke-width="${ringWidth}"/></svg>`;
  const ramp = (colors) => `<div class="fedmin-ramp">${colors.map((c) => `<span style="background:${c}"></span>`).join('')}</div>`;

  /** Legend sections by layer key (a section is dimmed while none of its layers is on). */
  function legendSections() {
    const rows = (items) => items.map(([sym, text]) => `<li>${sym}<span>${esc(text)}</span></li>`).join('');
    const b = P.basemap;
    const lc = P.land_coverage;
    const coverage = Object.entries(P.coverage)
      .filter(([topic]) => fedmin.layerByKey[`coverage_${topic}`])
      .map(([, [c, t]]) => [swatch(`background:${c}22;border:2px dashed ${c}`), `has ${t} data`]);
    return {
      ranked_cells: ['Ranked cells', `${ramp(P.ramp)}
        <div class="fedmin-ramp-labels"><span id="fedmin-ramp-lo">0</span><span id="fedmin-ramp-label">combined score</span><span id="fedmin-ramp-hi">1</span></div>
        <ul>${rows([[swatch(`border:3px solid ${P.pareto};background:transparent`), 'Pareto-optimal cell (outlined)']])}</ul>
        <p id="fedmin-legend-ranking" class="fedmin-legend-note"></p>`],
      deposits: ['Deposits by development status', `<ul>${rows([
        ...P.order.dev_status.map((k) => [dot(P.dev_status[k][0], P.deposit_ring.other, 1), P.dev_status[k][1]]),
        [dot('#ffffff', P.deposit_ring.critical, 2.6), 'thick black ring: critical mineral']])}</ul>
        <p class="fedmin-legend-note">Zoomed out, crowded tiles keep the most developed deposits first; zoom in to see them all.</p>
        <p class="fedmin-legend-note">Critical-mineral list: <b id="fedmin-legend-critical">${esc(criticalList().title)}</b></p>`],
      federal_lands: ['Federal land by agency', rows(P.order.agency.map((k) => P.agency[k]).map(([c, t]) =>
        [swatch(`background:${c};opacity:0.45;border:1px solid ${c}`), t]))],
      closed_lands: ['Closed to mineral entry', rows(Object.values(P.entry).map(([c, t, id]) => [hatch(id, c), t]))],
      land_coverage: ['Land-status coverage', rows([
        [swatch(`background:${lc.fill};opacity:0.45;border:1px dashed ${lc.line}`), 'status known only on mapped units (elsewhere unknown)'],
        [swatch('background:transparent;border:1px solid #bbb'), 'all federal land mapped (off units: non-federal)']])],
      claims: ['Mining claims', rows([[swatch('background:#ffd92f;border:1px solid #b8860b'), 'BLM claim (active darker)']])],
      roads: ['Infrastructure', rows(Object.entries(P.lines).map(([, [c, t, d, w]]) => [line(c, d, w), t]))],
      ...(coverage.length ? { coverage: ['Data coverage', `<ul>${rows(coverage)}</ul>
        <p class="fedmin-legend-note">Outside an outline that layer has no data: an empty area there is unknown, not empty.${fedmin.layerByKey.coverage_deposits ? ' Outside the deposit surveys, deposits come only from national compilations of one kind of deposit and a sample of MRDS.' : ''}</p>`] } : {}),
      ...rasterLegends(),
      basemap: ['Base map (offline)', rows([
        [swatch(`background:${b.land};border:1px solid #bbb`), 'land (US states)'],
        [swatch(`background:${b.water}`), 'lakes'],
        [line(b.river, null, 1), 'rivers'],
        [line(b.state_line, null, 1.3), 'state line'],
        [line(b.county_line, null, 0.5), 'county line (zoom 6+)'],
        [swatch(`background:${b.outside}`), 'outside the US: no base-map data'],
      ])],
      places: ['Place names', rows([[`<span class="fedmin-place fedmin-legend-place"><i></i><span>Redding</span></span>`, 'towns (Natural Earth), more as you zoom in']])],
    };
  }

  /** One ramp per raster, in the colours its tiles are rendered with (sent by the page). */
  function rasterLegends() {
    const number = (v) => (Math.abs(v) >= 10 ? Math.round(v).toLocaleString('en-US') : fmt(v));
    return Object.fromEntries(Object.entries(config.rasters || {}).map(([key, r]) => [key, [r.title,
      `${ramp(r.colors)}
       <div class="fedmin-ramp-labels"><span>${number(r.range[0])}</span><span>${esc(r.units)}</span><span>${number(r.range[1])}</span></div>`]]));
  }

  /** What the legend says about the ranking in force: the coloured value, the
   * critical-mineral list (echoed by the server), the cell size. */
  function updateLegendInfo() {
    const labelNode = document.getElementById('fedmin-ramp-label');
    if (labelNode) labelNode.textContent = state.colorBy === 'score' ? 'combined score' : label(state.colorBy);
    const [lo, hi] = [document.getElementById('fedmin-ramp-lo'), document.getElementById('fedmin-ramp-hi')];
    if (lo && hi) { lo.textContent = fmt(state.range[0]); hi.textContent = fmt(state.range[1]); }
    const params = state.ranking?.params || {};
    const list = state.ranking?.critical_list?.title || criticalList().title;
    const critical = document.getElementById('fedmin-legend-critical');
    if (critical) critical.textContent = list;
    const info = document.getElementById('fedmin-legend-ranking');
    if (info) {
      const commodity = params.commodity ? [].concat(params.commodity).join(', ') : (state.commodity || 'all commodities');
      info.textContent = `${commodity} · ${fmt(params.cell_km ?? state.cellKm, 0)} km cells · critical list: ${list}`;
    }
  }

  // Top right, under the layer control (added first), so the two never overlap.
  const Legend = L.Control.extend({
    options: { position: 'topright' },
    onAdd() {
      const div = el('div', { class: 'fedmin-legend', id: 'fedmin-legend' });
      const sections = legendSections();
      div.innerHTML = `<div class="fedmin-legend-head"><b>Legend</b><button type="button" class="fedmin-collapse" title="collapse/expand">–</button></div>
        <div class="fedmin-legend-body">` +
        Object.entries(sections).map(([key, [title, body]]) =>
          `<section data-legend="${key}"><h4>${esc(title)}</h4>${body.startsWith('<li') ? `<ul>${body}</ul>` : body}</section>`).join('') +
        '</div>';
      div.querySelector('.fedmin-collapse').addEventListener('click', (e) => {
        div.classList.toggle('collapsed');
        e.target.textContent = div.classList.contains('collapsed') ? '+' : '–';
        layout();
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
    const sectionOf = (key) => ({ railroads: 'roads', transmission_lines: 'roads' }[key]
      || (key.startsWith('coverage_') ? 'coverage' : key));
    const on = new Set();
    for (const [key, layer] of Object.entries(fedmin.layerByKey)) {
      if (fedmin.map.hasLayer(layer)) on.add(sectionOf(key));
    }
    legend.querySelectorAll('section[data-legend]').forEach((s) => {
      s.classList.toggle('off', !on.has(s.dataset.legend));
    });
  }

  function addHatchPatterns() {
    const defs = Object.values(P.entry).map(([color, , id], i) => `
      <pattern id="${id}" patternUnits="userSpaceOnUse" width="${i ? 12 : 7}" height="${i ? 12 : 7}" patternTransform="rotate(45)">
        <line x1="0" y1="0" x2="0" y2="${i ? 12 : 7}" stroke="${color}" stroke-width="${i ? 1.5 : 2.5}" stroke-opacity="0.85"/>
      </pattern>`).join('');
    const svg = el('div', { 'aria-hidden': 'true' },
      `<svg width="0" height="0" style="position:absolute"><defs>${defs}</defs></svg>`);
    document.body.appendChild(svg.firstChild);
  }

  // --- layout: panel left, layer control and legend stacked right, never overlapping ------------

  const MARGIN = 10;

  /** Size the panel, the layer control and the legend to the map: the right column splits
   * the height between the control and the legend (each scrolls), and the panel takes the
   * width the right column leaves. Runs at start and on every resize. */
  function layout() {
    const map = fedmin.map;
    if (!map) return;
    const { x: width, y: height } = map.getSize();
    const control = fedmin.layerControl.getContainer();
    const legend = document.getElementById('fedmin-legend');
    const panel = document.getElementById('fedmin-panel');
    const bottom = 30;  // attribution and scale bar
    const column = height - 2 * MARGIN - bottom;
    const legendHead = 32;
    const legendOpen = legend && !legend.classList.contains('collapsed');
    const controlMax = Math.floor(legendOpen ? column * 0.42 : column - legendHead - MARGIN);
    control.style.maxHeight = `${Math.max(90, controlMax)}px`;
    control.style.overflowY = 'auto';
    const rightWidth = Math.min(270, Math.max(190, Math.floor(width * 0.3)));
    control.style.maxWidth = `${rightWidth}px`;
    if (legend) {
      legend.style.width = `${rightWidth}px`;
      const used = control.getBoundingClientRect().height + MARGIN;
      legend.style.maxHeight = `${Math.max(legendHead, column - used)}px`;
    }
    if (panel) {
      const controlWidth = Math.max(control.getBoundingClientRect().width, legend ? legend.getBoundingClientRect().width : 0);
      panel.style.width = `${Math.max(200, Math.min(300, width - controlWidth - 4 * MARGIN))}px`;
      const top = panel.getBoundingClientRect().top - map.getContainer().getBoundingClientRect().top;
      panel.style.maxHeight = `${Math.max(120, height - top - MARGIN - bottom)}px`;
    }
  }

  // --- entry point ------------------------------------------------------------------------------

  /** Wire the page: `layers` maps layer keys (deposits, ranked_cells, ...) to Leaflet layers. */
  fedmin.init = function (map, layers, layerControl, pageConfig) {
    config = pageConfig;
    P = config.palette;
    fedmin.map = map;
    fedmin.config = config;
    fedmin.layerByKey = layers;
    fedmin.layerControl = layerControl;
    fedmin.layer = (key) => layers[key];
    state.weights = { ...config.weights };
    state.cellKm = config.cell_km.default;
    state.minOpenLand = config.min_open_land;
    state.minUndevelopedShare = config.min_undeveloped_share;
    state.criticalList = config.critical_list_default;
    fedmin.state = state;

    map.setMinZoom(config.zoom.min);
    map.setMaxZoom(config.zoom.max);
    map.getContainer().style.background = P.basemap.outside;
    addHatchPatterns();
    map.attributionControl.setPrefix(false);
    new Panel().addTo(map);
    new Legend().addTo(map);
    wirePanel();
    layout();
    map.on('resize', layout);
    map.on('overlayadd overlayremove', () => { syncLegend(); layout(); });

    map.on('click', (e) => {
      const id = depositAt(e.containerPoint)?.[config.deposit_id_property];
      if (id != null) showDeposit(id, { latlng: e.latlng }).catch((err) => console.warn(`deposit ${id}: ${err.message}`));
    });
    map.on('mousemove', (e) => {
      map.getContainer().classList.toggle('fedmin-over-deposit', Boolean(depositAt(e.containerPoint)));
    });
    syncLegend();
    state.initialView = { center: map.getCenter(), zoom: map.getZoom() };
    rerank();
  };

  /** True when no zoom animation runs and every tile layer on the map has its tiles
   * (lets tests and scripts wait for a drawn map instead of sleeping). */
  fedmin.isIdle = () => !fedmin.map._animatingZoom && Object.values(fedmin.layerByKey)
    .every((layer) => !fedmin.map.hasLayer(layer) || !layer.isLoading || !layer.isLoading());
  /** Features drawn by a vector-tile layer right now (tiles on the map), e.g. deposits. */
  fedmin.drawnFeatures = (key) => {
    const layer = fedmin.layer(key);
    if (!layer || !fedmin.map.hasLayer(layer) || !layer._vectorTiles) return 0;
    return Object.values(layer._vectorTiles).reduce((n, tile) => n + Object.keys(tile._features || {}).length, 0);
  };
  fedmin.showDeposit = (id) => showDeposit(id, { fly: true });
  fedmin.showCell = showCell;
  fedmin.rerank = rerank;
  fedmin.layout = layout;
  global.fedmin = fedmin;
}(window));
