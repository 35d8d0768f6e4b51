import Foundation
import MixmaeRuns

/// `/runs`: the runs in a table of pages, sorted by any column (click a header), filtered by
/// task, status and start date, with metric columns the user picks. Each page comes sorted
/// from the server (`/api/runs?...&page_size=&page=&sort=&dir=`, ``RunsPaging``: the entries of
/// `mixmae runs list --format json`), polled every few seconds while a RUNNING run is shown,
/// so statuses and metrics stay live. Filters, sort and page live in the page's address, so a
/// view can be bookmarked.
package struct RunsPage {
    package let registry: RunRegistry

    package func render() throws -> String {
        let tasks = try registry.taskNames()
        let metrics = try registry.metricNames()
        let taskOptions = ([""] + tasks).map { "<option value=\"\(e($0))\">\($0.isEmpty ? "any" : e($0))</option>" }
        let statusOptions = ([""] + RunStatus.allCases.map { $0.rawValue.lowercased() }).map {
            "<option value=\"\($0)\">\($0.isEmpty ? "any" : $0)</option>"
        }
        let metricList = metrics.map { "<option value=\"\(e($0))\"></option>" }.joined()
        let body = """
            <h1>Runs <span class="muted" id="count"></span></h1>
            <form class="filters" id="filters">
            <label>task<select name="task" id="task">\(taskOptions.joined())</select></label>
            <label>status<select name="status" id="status">\(statusOptions.joined())</select></label>
            <label>since (2026-11-27, 12h, 7d)<input name="since" id="since" size="14"/></label>
            <label>metric columns (comma-separated)<input name="metrics" id="metrics" size="28" list="metric-names"/></label>
            <datalist id="metric-names">\(metricList)</datalist>
            <button type="submit" id="apply">show</button>
            <button type="button" id="compare" disabled="disabled">compare selected</button>
            <span class="live" id="live"></span>
            </form>
            <pre class="error" id="error" hidden="hidden"></pre>
            <table class="runs" id="runs"><thead><tr id="header"></tr></thead><tbody id="rows"></tbody></table>
            <div class="filters pager" id="pager">
            <button type="button" id="first">&laquo; first</button>
            <button type="button" id="previous">&lsaquo; previous</button>
            <span id="position"></span>
            <button type="button" id="next">next &rsaquo;</button>
            <button type="button" id="last">last &raquo;</button>
            <label>runs per page<select id="page-size">            <option>25</option><option selected="selected">50</option><option>100</option><option>200</option>            </select></label>
            </div>
            <p class="muted">Metric columns show each metric's value at the run's last logged step. \
            Known metrics: \(e(metrics.joined(separator: ", ")))</p>
            """
        return UILayout.page(title: "runs", active: .runs, body: body, script: Self.script)
    }

    private func e(_ text: String) -> String { UILayout.escape(text) }

    private static let script = #"""
        const form = document.getElementById('filters');
        const fields = ['task', 'status', 'since', 'metrics'];
        const start = new URLSearchParams(location.search);
        for (const name of fields) if (start.get(name)) form.elements[name].value = start.get(name);
        let runs = [];
        let sortKey = start.get('sort') || 'id';
        let sortDir = start.get('dir') || 'desc';
        let page = Math.max(1, Number(start.get('page')) || 1);
        let pageSize = Number(start.get('page_size')) || 50;
        let pages = 1;
        let total = 0;
        const sizeSelect = document.getElementById('page-size');
        if (![...sizeSelect.options].some(o => o.value === String(pageSize))) sizeSelect.add(new Option(pageSize, pageSize));
        sizeSelect.value = String(pageSize);
        let timer = null;
        const selected = new Set();

        function metricNames() {
          return form.elements.metrics.value.split(',').map(s => s.trim()).filter(s => s.length > 0);
        }
        function query() {
          const q = new URLSearchParams();
          for (const name of fields) if (form.elements[name].value) q.set(name, form.elements[name].value);
          return q;
        }
        function seconds(run) {
          const end = run.endedAt ? Date.parse(run.endedAt) : Date.now();
          return (end - Date.parse(run.startedAt)) / 1000;
        }
        function duration(s) {
          s = Math.max(0, Math.round(s));
          if (s < 60) return s + 's';
          if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
          return Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
        }
        function localTime(iso) {
          const d = new Date(iso);
          const p = n => String(n).padStart(2, '0');
          return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
            p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
        }
        function value(v) {
          if (v === null || v === undefined) return '-';
          if (typeof v === 'string') return v;
          return Number(v.toPrecision(6)).toString();
        }
        function columns() {
          const cols = [
            {key: 'id', label: 'id', num: true, get: r => r.id, html: r => `<a href="/run/${r.id}" class="run-link">${r.id}</a>`},
            {key: 'task', label: 'task', get: r => r.task},
            {key: 'status', label: 'status', get: r => r.status, html: r => `<span class="status ${r.status}">${r.status}</span>`},
            {key: 'startedAt', label: 'started', get: r => r.startedAt, html: r => localTime(r.startedAt)},
            {key: 'duration', label: 'duration', num: true, get: r => seconds(r), html: r => duration(seconds(r))},
            {key: 'attempt', label: 'attempts', num: true, get: r => r.attempt},
            {key: 'seed', label: 'seed', num: true, get: r => r.seed ?? -1, html: r => r.seed ?? '-'},
            {key: 'recipe', label: 'recipe', get: r => r.recipeSHA256, html: r => `<code>${r.recipeSHA256.slice(0, 12)}</code>`},
            {key: 'host', label: 'host', get: r => r.host},
          ];
          for (const m of metricNames()) {
            cols.push({key: 'metric:' + m, label: m, num: true, metric: true,
              get: r => { const v = r.metrics ? r.metrics[m] : null; return typeof v === 'number' ? v : -Infinity; },
              html: r => value(r.metrics ? r.metrics[m] : null)});
          }
          cols.push({key: 'note', label: 'note', get: r => r.error || (r.parentRunID ? 'rerun of run ' + r.parentRunID : ''),
            html: r => escapeHTML((r.error || (r.parentRunID ? 'rerun of run ' + r.parentRunID : '')).split('\n')[0].slice(0, 80))});
          cols.push({key: 'lineage', label: 'lineage', fixed: true, get: r => r.id, html: r => `<a href="/lineage?ref=run:${r.id}">lineage</a>`});
          return cols;
        }
        function escapeHTML(s) {
          return String(s).replace(/[&<>"]/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'})[c]);
        }
        function render() {
          const cols = columns();
          const header = document.getElementById('header');
          header.innerHTML = '<th></th>' + cols.map(c => {
            const cls = c.key === sortKey ? (sortDir === 'asc' ? 'sorted-asc' : 'sorted-desc') : '';
            if (c.fixed) return `<th>${escapeHTML(c.label)}</th>`;
            return `<th data-key="${escapeHTML(c.key)}" class="${cls}">${escapeHTML(c.label)}</th>`;
          }).join('');
          for (const th of header.querySelectorAll('th[data-key]')) {
            th.onclick = () => {
              const key = th.dataset.key;
              if (sortKey === key) sortDir = sortDir === 'asc' ? 'desc' : 'asc'; else { sortKey = key; sortDir = 'asc'; }
              page = 1;
              load();
            };
          }
          const rows = runs.map(r => '<tr data-run="' + r.id + '" data-status="' + r.status + '">' +
            `<td><input type="checkbox" class="pick" value="${r.id}" ${selected.has(r.id) ? 'checked' : ''}/></td>` +
            cols.map(c => `<td class="${c.num ? 'num' : ''}">${c.html ? c.html(r) : escapeHTML(c.get(r))}</td>`).join('') +
            '</tr>');
          document.getElementById('rows').innerHTML = rows.join('');
          for (const box of document.querySelectorAll('input.pick')) {
            box.onchange = () => { const id = Number(box.value); box.checked ? selected.add(id) : selected.delete(id); pickChanged(); };
          }
          document.getElementById('count').textContent = '(' + total + ')';
          const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
          document.getElementById('position').textContent =
            `page ${page} of ${pages}: runs ${from}-${(page - 1) * pageSize + runs.length} of ${total}`;
          document.getElementById('first').disabled = document.getElementById('previous').disabled = page <= 1;
          document.getElementById('next').disabled = document.getElementById('last').disabled = page >= pages;
          pickChanged();
        }
        function pickChanged() {
          document.getElementById('compare').disabled = selected.size < 2;
        }
        document.getElementById('compare').onclick = () => {
          location.href = '/compare?runs=' + Array.from(selected).sort((a, b) => a - b).join(',');
        };
        function goTo(target) { page = Math.max(1, Math.min(target, pages)); load(); }
        document.getElementById('first').onclick = () => goTo(1);
        document.getElementById('previous').onclick = () => goTo(page - 1);
        document.getElementById('next').onclick = () => goTo(page + 1);
        document.getElementById('last').onclick = () => goTo(pages);
        sizeSelect.onchange = () => { pageSize = Number(sizeSelect.value); page = 1; load(); };
        async function load() {
          const q = query();
          const address = new URLSearchParams(q);
          if (sortKey !== 'id') address.set('sort', sortKey);
          if (sortDir !== 'desc') address.set('dir', sortDir);
          if (page !== 1) address.set('page', page);
          if (pageSize !== 50) address.set('page_size', pageSize);
          history.replaceState(null, '', '/runs' + (address.toString() ? '?' + address : ''));
          const api = new URLSearchParams(q);
          for (const [k, v] of [['page_size', pageSize], ['page', page], ['sort', sortKey], ['dir', sortDir]]) api.set(k, v);
          const error = document.getElementById('error');
          try {
            const response = await fetch('/api/runs?' + api);
            const body = await response.json();
            if (!response.ok) { error.textContent = body.error; error.hidden = false; runs = []; render(); return; }
            error.hidden = true;
            if (body.runs.length === 0 && body.total > 0 && page > body.pages) { page = body.pages; return load(); }
            runs = body.runs;
            total = body.total;
            pages = body.pages;
            render();
          } catch (e) {
            error.textContent = 'cannot reach the mixmae ui server: ' + e; error.hidden = false;
          }
          clearTimeout(timer);
          const live = runs.some(r => r.status === 'RUNNING');
          document.getElementById('live').textContent = live ? 'live: refreshing every 3 s while runs are RUNNING' : '';
          if (live) timer = setTimeout(load, 3000);
          document.body.dataset.loaded = String(Date.now());
        }
        form.onsubmit = event => { event.preventDefault(); page = 1; load(); };
        for (const name of ['task', 'status']) form.elements[name].onchange = () => { page = 1; load(); };
        load();
        """#
}
