// rfy's web UI: a Flink-dashboard-like single page over the JobManager's REST API.
// Every URL is relative (the page works at / and behind YARN's RM proxy, /proxy/<app>/).
// Pages (hash routes): #/ overview, #/job/<id>[/vertex/<vid>] (JobGraph DAG, vertices,
// a vertex's subtasks with backpressure and watermarks, checkpoints, exceptions,
// configuration), #/taskmanagers, #/taskmanager/<id>[/log[/<file>]] (a TaskManager,
// its log files and log viewer), #/jobmanager[/log[/<file>]].
import { h, render } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";
import dagre from "@dagrejs/dagre";

const html = htm.bind(h);
const REFRESH_MS = 3000;
// YARN's web proxy forwards GET only: actions need the JobManager's own address.
const behindProxy = location.pathname.includes("/proxy/");

async function getJson(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

/** Polls `paths` every REFRESH_MS; returns [values, error]. */
function usePoll(paths) {
  const [state, setState] = useState([null, null]);
  const key = paths.join("|");
  useEffect(() => {
    let live = true;
    const load = () =>
      Promise.all(paths.map(getJson)).then(
        (v) => live && setState([v, null]),
        (e) => live && setState((s) => [s[0], String(e)]),
      );
    load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [key]);
  return state;
}

const fmtTime = (ms) => (ms > 0 ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "-");
const fmtDur = (ms) => (ms >= 0 ? `${(ms / 1000).toFixed(1)} s` : "-");
const fmtNum = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : `${Math.round(n)}`);
const fmtBytes = (n) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const State = ({ s }) => html`<span class=${"state " + s}>${s}</span>`;

function Table({ head, rows, id }) {
  return html`<table id=${id}><thead><tr>${head.map((x) => html`<th>${x}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table>`;
}

function Overview() {
  const [v, err] = usePoll(["overview", "jobs/overview", "taskmanagers"]);
  if (!v) return html`<p>${err || "loading…"}</p>`;
  const [o, jobs, tms] = v;
  return html`<section>
    <h2>Overview</h2>
    <div class="cards">
      <div class="card">TaskManagers<b>${o.taskmanagers}</b></div>
      <div class="card">Slots free / total<b>${o["slots-available"]} / ${o["slots-total"]}</b></div>
      <div class="card">Running jobs<b>${o["jobs-running"]}</b></div>
      <div class="card">Finished / canceled / failed<b>${o["jobs-finished"]} / ${o["jobs-cancelled"]} / ${o["jobs-failed"]}</b></div>
    </div>
    <h3>Jobs</h3>
    <${Table} id="jobs" head=${["Job ID", "Name", "State", "Start", "Duration", "Tasks"]}
      rows=${jobs.jobs.map((j) => [html`<a href=${"#/job/" + j.jid}>${j.jid}</a>`, j.name, html`<${State} s=${j.state} />`, fmtTime(j["start-time"]), fmtDur(j.duration), j.tasks.total])} />
    <h3>TaskManagers</h3>
    <${TaskManagerTable} tms=${tms.taskmanagers} />
    <p class="json">JSON: <a href="overview">overview</a> · <a href="jobs/overview">jobs/overview</a> · <a href="taskmanagers">taskmanagers</a> · <a href="config">config</a></p>
  </section>`;
}

function TaskManagerTable({ tms }) {
  return html`<${Table} id="taskmanagers" head=${["ID", "Address", "Free / total slots", "RSS", "CPU load", "Prometheus port", "Last heartbeat"]}
    rows=${tms.map((t) => [html`<a class="tmlink" href=${"#/taskmanager/" + encodeURIComponent(t.id)}>${t.id}</a>`, t.path, `${t.freeSlots} / ${t.slotsNumber}`, fmtBytes(t.rssBytes || 0), (t.cpuLoad || 0).toFixed(2), t.prometheusPort ?? "-", `${t.timeSinceLastHeartbeat} ms`])} />`;
}

/** The JobGraph as an SVG DAG, laid out by dagre. */
function Dag({ job, onPick }) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 30, ranksep: 60, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const v of job.vertices) g.setNode(v.id, { width: 230, height: 64, v });
  for (const n of job.plan.nodes) for (const i of n.inputs || []) g.setEdge(i.id, n.id, { ship: i.ship_strategy });
  dagre.layout(g);
  const { width, height } = g.graph();
  return html`<svg class="dag" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`}>
    ${g.edges().map((e) => {
      const ed = g.edge(e);
      const d = ed.points.map((p, i) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
      const mid = ed.points[Math.floor(ed.points.length / 2)];
      return html`<g><path d=${d} class="edge" /><text x=${mid.x} y=${mid.y - 6} class="ship">${ed.ship}</text></g>`;
    })}
    ${g.nodes().map((id) => {
      const n = g.node(id);
      const m = n.v.metrics;
      return html`<g class="node" onClick=${() => onPick(id)} transform=${`translate(${n.x - n.width / 2},${n.y - n.height / 2})`}>
        <rect width=${n.width} height=${n.height} rx="6" class=${"vertex " + n.v.status} />
        <text x="8" y="18" class="vname">${n.v.name.length > 34 ? n.v.name.slice(0, 33) + "…" : n.v.name}</text>
        <text x="8" y="36">Parallelism ${n.v.parallelism} · ${n.v.status}</text>
        <text x="8" y="54">in ${fmtNum(m["read-records"])} · out ${fmtNum(m["write-records"])}</text>
      </g>`;
    })}
  </svg>`;
}

function VertexDetail({ jid, vid }) {
  const base = `jobs/${jid}/vertices/${vid}`;
  const [v, err] = usePoll([base, `${base}/metrics`, `${base}/backpressure`, `${base}/watermarks`]);
  if (!v) return html`<p>${err || "loading…"}</p>`;
  return html`<${VertexBody} jid=${jid} vid=${vid} d=${v[0]} ids=${v[1]} bp=${v[2]} wms=${v[3]} />`;
}

const fmtWm = (w) => (Number(w) <= -9.2e18 || w === undefined ? "No Watermark" : fmtTime(Number(w)));
const pct = (x) => `${Math.round(x * 100)} %`;

function VertexBody({ jid, vid, d, ids, bp, wms }) {
  const [m] = usePoll([`jobs/${jid}/vertices/${vid}/metrics?get=${ids.map((x) => x.id).join(",")}`]);
  const metric = (id) => Number((m?.[0] || []).find((x) => x.id === id)?.value || 0);
  const bpOf = (i) => bp.subtasks.find((x) => x.subtask === i) || {};
  const wmOf = (i) => wms.find((x) => x.id === `${i}.currentInputWatermark`)?.value;
  return html`<div id="vertex">
    <h3>Vertex: ${d.name}</h3>
    <p>Records in ${fmtNum(metric("numRecordsInPerSecond"))}/s · out ${fmtNum(metric("numRecordsOutPerSecond"))}/s · bytes in ${fmtBytes(metric("numBytesInPerSecond"))}/s · out ${fmtBytes(metric("numBytesOutPerSecond"))}/s</p>
    <p id="backpressure">Backpressure: <b class=${"bp " + bp["backpressure-level"]}>${bp["backpressure-level"]}</b> · max busy ${Math.round(metric("busyTimeMsPerSecond"))} ms/s · max back-pressured ${Math.round(metric("backPressuredTimeMsPerSecond"))} ms/s · low watermark ${fmtWm(metric("currentInputWatermark"))}</p>
    <${Table} id="subtasks" head=${["Subtask", "State", "TaskManager", "Endpoint", "Records in", "Records out", "Bytes in", "Bytes out", "Out / s", "Busy", "Backpressured", "Idle", "In buffers", "Out buffers", "Watermark", "Duration"]}
      rows=${d.subtasks.map((s) => [s.subtask, html`<${State} s=${s.status} />`, html`<a class="tmlink" href=${"#/taskmanager/" + encodeURIComponent(s["taskmanager-id"])}>${s["taskmanager-id"]}</a>`, s.endpoint, fmtNum(s.metrics["read-records"]), fmtNum(s.metrics["write-records"]), fmtBytes(s.metrics["read-bytes"]), fmtBytes(s.metrics["write-bytes"]), fmtNum(metric(`${s.subtask}.numRecordsOutPerSecond`)), pct(bpOf(s.subtask).busyRatio || 0), html`<span class=${"bp " + bpOf(s.subtask)["backpressure-level"]}>${pct(bpOf(s.subtask).ratio || 0)}</span>`, pct(bpOf(s.subtask).idleRatio || 0), pct(metric(`${s.subtask}.Shuffle.Netty.Input.Buffers.inPoolUsage`)), pct(metric(`${s.subtask}.Shuffle.Netty.Output.Buffers.outPoolUsage`)), fmtWm(wmOf(s.subtask)), fmtDur(s.duration)])} />
  </div>`;
}

async function act(method, path, body) {
  const r = await fetch(path, { method, headers: { "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  const v = await r.json().catch(() => ({}));
  alert(r.ok ? `${method} ${path}: accepted ${JSON.stringify(v)}` : `${method} ${path}: ${(v.errors || []).join("; ")}`);
}

function Job({ jid, vertex }) {
  const [tab, setTab] = useState("overview");
  const setVertex = (vid) => (location.hash = `#/job/${jid}/vertex/${vid}`);
  const [v, err] = usePoll([`jobs/${jid}`, `jobs/${jid}/checkpoints`, `jobs/${jid}/exceptions`, `jobs/${jid}/config`, `jobs/${jid}/checkpoints/config`]);
  if (!v) return html`<p>${err || "loading…"}</p>`;
  const [job, cps, exc, conf, cpconf] = v;
  const running = !["FINISHED", "FAILED", "CANCELED"].includes(job.state);
  const tabs = ["overview", "checkpoints", "exceptions", "configuration"];
  return html`<section>
    <h2>${job.name} <${State} s=${job.state} /></h2>
    <p>Job ${job.jid} · started ${fmtTime(job["start-time"])} · ${fmtDur(job.duration)}</p>
    <p class="actions">
      <button disabled=${behindProxy || !running} onClick=${() => confirm("Cancel the job?") && act("PATCH", `jobs/${jid}?mode=cancel`)}>Cancel job</button>
      <button disabled=${behindProxy || !running} onClick=${() => act("POST", `jobs/${jid}/savepoints`, { "cancel-job": false })}>Trigger savepoint</button>
      ${behindProxy && html`<span class="note">Actions are disabled here: YARN's web proxy forwards GET requests only. Open the JobManager's own REST address to cancel or trigger a savepoint.</span>`}
    </p>
    <nav class="tabs">${tabs.map((t) => html`<a class=${t === tab ? "on" : ""} onClick=${() => setTab(t)}>${t}</a>`)}</nav>
    ${tab === "overview" && html`<div>
      <${Dag} job=${job} onPick=${setVertex} />
      <${Table} id="vertices" head=${["Vertex", "Parallelism", "State", "Records in", "Records out", "Bytes in", "Bytes out", "Duration"]}
        rows=${job.vertices.map((x) => [html`<a class="vertexlink" href=${`#/job/${jid}/vertex/${x.id}`}>${x.name}</a>`, x.parallelism, html`<${State} s=${x.status} />`, fmtNum(x.metrics["read-records"]), fmtNum(x.metrics["write-records"]), fmtBytes(x.metrics["read-bytes"]), fmtBytes(x.metrics["write-bytes"]), fmtDur(x.duration)])} />
      ${vertex && html`<${VertexDetail} jid=${jid} vid=${vertex} />`}
    </div>`}
    ${tab === "checkpoints" && html`<div id="checkpoints">
      <p>Completed ${cps.counts.completed} · failed ${cps.counts.failed} · in progress ${cps.counts.in_progress} · restored ${cps.counts.restored}</p>
      <p>End-to-end duration min/avg/max ${fmtDur(cps.summary.end_to_end_duration.min)} / ${fmtDur(cps.summary.end_to_end_duration.avg)} / ${fmtDur(cps.summary.end_to_end_duration.max)} · size avg ${fmtBytes(cps.summary.state_size.avg)}</p>
      <${Table} head=${["ID", "Type", "Status", "Triggered", "Duration", "Size", "Acknowledged", "Path"]}
        rows=${cps.history.map((c) => [c.id, c.checkpoint_type, c.status, fmtTime(c.trigger_timestamp), fmtDur(c.end_to_end_duration), fmtBytes(c.state_size), `${c.num_acknowledged_subtasks}/${c.num_subtasks}`, c.external_path || c.failure_message || ""])} />
      <h4>Configuration</h4>
      <${Table} head=${["Option", "Value"]} rows=${Object.entries(cpconf).map(([k, x]) => [k, typeof x === "object" ? JSON.stringify(x) : String(x)])} />
    </div>`}
    ${tab === "exceptions" && html`<div id="exceptions">
      ${exc.exceptionHistory.entries.length === 0 && html`<p>No exceptions.</p>`}
      ${exc.exceptionHistory.entries.map((e) => html`<details open><summary>${fmtTime(e.timestamp)} ${e.taskName || ""} ${e.endpoint || ""}</summary><pre>${e.stacktrace}</pre></details>`)}
    </div>`}
    ${tab === "configuration" && html`<${Table} id="jobconfig" head=${["Key", "Value"]} rows=${Object.entries(conf["execution-config"]["user-config"]).map(([k, x]) => [k, x])} />`}
  </section>`;
}

function TaskManagers() {
  const [v, err] = usePoll(["taskmanagers"]);
  if (!v) return html`<p>${err || "loading…"}</p>`;
  return html`<section><h2>TaskManagers</h2><${TaskManagerTable} tms=${v[0].taskmanagers} /></section>`;
}

/** A log file's tail (the JobManager serves the last 4 MiB), refreshed live; `path` is relative. */
function LogView({ path }) {
  const [text, setText] = useState(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      fetch(path).then(async (r) => {
        const body = await r.text();
        if (!live) return;
        if (r.ok) setText(body);
        else setText(`${path}: HTTP ${r.status} ${(() => { try { return JSON.parse(body).errors.join("; "); } catch (_) { return body; } })()}`);
      }, (e) => live && setText(String(e)));
    load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [path]);
  return html`<div><p class="json">Raw: <a href=${path}>${path}</a></p><pre class="log" id="logview">${text ?? "loading…"}</pre></div>`;
}

/** The log files a process serves, each opening in the viewer. */
function LogList({ listPath, fileBase, pick }) {
  const [v, err] = usePoll([listPath]);
  if (!v) return html`<p>${err || "loading…"}</p>`;
  if (v[0].logs.length === 0) return html`<p>No log files (the process logs to stderr only: set env.log.dir, or run on YARN).</p>`;
  return html`<${Table} id="logfiles" head=${["File", "Size", "Modified"]}
    rows=${v[0].logs.map((l) => [html`<a class="loglink" href=${pick(l.name)}>${l.name}</a>`, fmtBytes(l.size), fmtTime(l.mtime)])} />`;
}

/** Flink's TaskExecutorMemoryConfiguration, component by component (rfy has
 * no JVM: metaspace is 0 unless set, JVM overhead is native overhead); network
 * and managed memory show what the tasks hold (channel buffers, keyed state). */
const MEMORY_COMPONENTS = [
  ["frameworkHeap", "Framework heap"], ["taskHeap", "Task heap"], ["frameworkOffHeap", "Framework off-heap"],
  ["taskOffHeap", "Task off-heap"], ["networkMemory", "Network", "Status.Shuffle.Netty.UsedMemory"],
  ["managedMemory", "Managed (keyed state)", "Status.Flink.Memory.Managed.Used"], ["jvmMetaspace", "JVM metaspace"],
  ["jvmOverhead", "Overhead (native)"], ["totalFlinkMemory", "Total Flink memory"],
  ["totalProcessMemory", "Total process memory", "Status.ProcessTree.Memory.RSS"],
];

function memoryRows(mc, metric) {
  return MEMORY_COMPONENTS.filter(([k]) => k in mc).map(([k, name, used]) => [name, fmtBytes(mc[k]), used ? fmtBytes(metric(used)) : "-"]);
}

function TaskManager({ id, file }) {
  const enc = encodeURIComponent(id);
  const [v, err] = usePoll([`taskmanagers/${enc}`, `taskmanagers/${enc}/metrics?get=Status.ProcessTree.Memory.RSS,Status.ProcessTree.CPU.Load,Status.Shuffle.Netty.UsedMemory,Status.Flink.Memory.Managed.Used`]);
  if (!v) return html`<p>${err || "loading…"}</p>`;
  const [t, m] = v;
  const metric = (k) => Number(m.find((x) => x.id === k)?.value || 0);
  const limit = t.memoryConfiguration?.totalProcessMemory || 0;
  return html`<section><h2>TaskManager ${id}</h2>
    <div class="cards">
      <div class="card">Slots free / total<b>${t.freeSlots} / ${t.slotsNumber}</b></div>
      <div class="card">Memory (RSS / process size)<b>${fmtBytes(metric("Status.ProcessTree.Memory.RSS"))} / ${limit ? fmtBytes(limit) : "-"}</b></div>
      <div class="card">CPU load<b>${metric("Status.ProcessTree.CPU.Load").toFixed(2)}</b></div>
      <div class="card">CPU cores<b>${t.hardware?.cpuCores ?? "-"}</b></div>
    </div>
    <h3>Memory model</h3>
    <${Table} id="tmmemory" head=${["Component", "Configured", "Used"]} rows=${memoryRows(t.memoryConfiguration || {}, metric)} />
    <p>Address ${t.path} · data port ${t.dataPort} · Prometheus port ${t.prometheusPort ?? "-"} · <a class="loglink" href=${`#/taskmanager/${enc}/log`}>Log</a> · <a href=${`#/taskmanager/${enc}/log/taskmanager.out`}>Stdout</a></p>
    <h3>Log files</h3>
    <${LogList} listPath=${`taskmanagers/${enc}/logs`} pick=${(n) => `#/taskmanager/${enc}/log/${encodeURIComponent(n)}`} />
    ${file !== undefined && html`<h3>${file || "Log"}</h3><${LogView} path=${file ? `taskmanagers/${enc}/logs/${encodeURIComponent(file)}` : `taskmanagers/${enc}/log`} />`}
  </section>`;
}

function JobManager({ file }) {
  const [v, err] = usePoll(["jobmanager/config", "config"]);
  if (!v) return html`<p>${err || "loading…"}</p>`;
  return html`<section><h2>JobManager</h2><p>rfy ${v[1]["flink-version"]} · <a class="loglink" href="#/jobmanager/log">Log</a></p>
    <h3>Log files</h3>
    <${LogList} listPath="jobmanager/logs" pick=${(n) => `#/jobmanager/log/${encodeURIComponent(n)}`} />
    ${file !== undefined && html`<h3>${file || "Log"}</h3><${LogView} path=${file ? `jobmanager/logs/${encodeURIComponent(file)}` : "jobmanager/log"} />`}
    <h3>Configuration</h3>
    <${Table} id="jmconfig" head=${["Key", "Value"]} rows=${v[0].map((e) => [e.key, e.value])} /></section>`;
}

function App() {
  const [route, setRoute] = useState(location.hash);
  useEffect(() => {
    const f = () => setRoute(location.hash);
    addEventListener("hashchange", f);
    return () => removeEventListener("hashchange", f);
  }, []);
  const job = route.match(/^#\/job\/([0-9a-f]{32})(?:\/vertex\/([0-9a-f]{32}))?/);
  const tm = route.match(/^#\/taskmanager\/([^/]+)(\/log(?:\/([^/]+))?)?$/);
  const jm = route.match(/^#\/jobmanager(\/log(?:\/([^/]+))?)?$/);
  const file = (m, i) => (m[i - 1] ? decodeURIComponent(m[i] || "") : undefined);
  const page = job
    ? html`<${Job} jid=${job[1]} vertex=${job[2]} />`
    : tm
      ? html`<${TaskManager} id=${decodeURIComponent(tm[1])} file=${file(tm, 3)} />`
      : route === "#/taskmanagers"
        ? html`<${TaskManagers} />`
        : jm
          ? html`<${JobManager} file=${file(jm, 2)} />`
          : html`<${Overview} />`;
  return html`<header><h1>rfy</h1><nav><a href="#/">Overview</a><a href="#/taskmanagers">TaskManagers</a><a href="#/jobmanager">JobManager</a></nav></header><main>${page}</main>`;
}

const root = document.getElementById("app");
root.textContent = ""; // the no-JavaScript fallback
render(html`<${App} />`, root);
