// A client generated from the served OpenAPI document (openapi-typescript + openapi-fetch), used
// as any consumer would: no casts, no hand-written types. Run: node out/client/flow.js <base URL> <API key>.
// It submits, lists with filters, pauses, resumes, cancels and reads the journal, checking effects.
import createClient from "openapi-fetch";
import type { paths } from "../generated/api.js";

const baseUrl = process.argv[2];
const apiKey = process.argv[3];
if (baseUrl === undefined || apiKey === undefined) {
  throw new Error("usage: node out/client/flow.js <base URL> <API key>");
}

const api = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${apiKey}` } });

function check(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(message);
  }
}

async function until<T>(what: string, probe: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe();
    if (accept(value)) {
      return value;
    }
    check(Date.now() < deadline, `timed out waiting for ${what}: last saw ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function submit(key: string): Promise<string> {
  // As the 503 says: the cluster did not answer in time (a busy machine); the same request with the same key is safe to repeat.
  const post = () => api.POST("/api/jobs", {
    params: { header: { "Idempotency-Key": key } },
    body: { type: "synthetic", parameters: { items: 100000, itemMs: 20 }, priority: 5, checkpoint: { everyItems: 10 } },
  });
  const { data, error, response } = await until("a submit the cluster answers", post, (answer) => answer.response.status !== 503);
  check((response.status === 201 || response.status === 200) && data !== undefined, `submit: ${response.status} ${JSON.stringify(error)}`);
  check(data.type === "synthetic" && data.priority === 5, `submit returned ${JSON.stringify(data)}`);
  return data.id;
}

async function status(id: string): Promise<string> {
  const { data, response } = await api.GET("/api/jobs/{id}", { params: { path: { id } } });
  check(data !== undefined, `get ${id}: ${response.status}`);
  return data.status;
}

const run = Date.now().toString(36);
const first = await submit(`client-a-${run}`);
const second = await submit(`client-b-${run}`);

// Listing with filters, one job per page: both jobs, newest first, through the cursor.
const seen: string[] = [];
let cursor: string | undefined;
for (let page = 0; page < 10; page++) {
  const { data, error } = await api.GET("/api/jobs", {
    params: { query: { status: ["Running", "Queued"], type: "synthetic", limit: 1, cursor } },
  });
  check(data !== undefined, `list: ${JSON.stringify(error)}`);
  check(data.items.length <= 1, `a page of limit 1 had ${data.items.length} items`);
  seen.push(...data.items.map((job) => job.id));
  cursor = data.nextCursor ?? undefined;
  if (cursor === undefined) {
    break;
  }
}
check(seen.indexOf(second) >= 0 && seen.indexOf(first) > seen.indexOf(second), `listing order ${JSON.stringify(seen)}`);

// A filter that excludes them.
const done = await api.GET("/api/jobs", { params: { query: { status: ["Completed"], type: "synthetic", limit: 500 } } });
check(done.data !== undefined && !done.data.items.some((job) => job.id === first), "a running job listed as Completed");

// Control: pause, resume, cancel.
const paused = await api.POST("/api/jobs/{id}/pause", { params: { path: { id: first } }, body: { reason: "generated client" } });
// The item in flight finishes first: Pausing, then Paused once the checkpoint is saved.
check(paused.data?.status === "Pausing", `pause: ${paused.response.status} ${JSON.stringify(paused.error)}`);
await until("the paused job to stop", () => status(first), (s) => s === "Paused");
const resumed = await api.POST("/api/jobs/{id}/resume", { params: { path: { id: first } } });
check(resumed.data !== undefined && resumed.data.status !== "Paused", `resume: ${resumed.response.status}`);
await until("the resumed job to run", () => status(first), (s) => s === "Running");
for (const id of [first, second]) {
  const cancelled = await api.POST("/api/jobs/{id}/cancel", { params: { path: { id } }, body: { reason: "generated client done" } });
  check(cancelled.data !== undefined, `cancel ${id}: ${cancelled.response.status}`);
}
await until("the first job to be cancelled", () => status(first), (s) => s === "Cancelled");
const refused = await api.POST("/api/jobs/{id}/pause", { params: { path: { id: first } } });
check(refused.response.status === 409 && refused.error !== undefined && "jobStatus" in refused.error && refused.error.jobStatus === "Cancelled",
  `pause of a cancelled job: ${refused.response.status} ${JSON.stringify(refused.error)}`);

// The journal, as JSON and as JSON Lines, once the projection shows the cancellation.
const journal = await until(
  "the journal to show the cancellation",
  async () => {
    const { data } = await api.GET("/api/jobs/{id}/journal", { params: { path: { id: first }, query: { format: "json" } } });
    return Array.isArray(data) ? data : [];
  },
  (entries) => entries.some((entry) => entry.to === "Cancelled"),
);
const transitions = journal.filter((entry) => entry.type === "state_change").map((entry) => `${entry.from}>${entry.to}`);
for (const expected of ["Queued>Running", "Running>Pausing", "Pausing>Paused", "Paused>Queued", "Running>Cancelling", "Cancelling>Cancelled"]) {
  check(transitions.includes(expected), `journal lacks ${expected}: ${JSON.stringify(transitions)}`);
}
check(journal.some((entry) => entry.reason === "generated client"), "the pause reason is not in the journal");
const lines = await api.GET("/api/jobs/{id}/journal", { params: { path: { id: first }, query: { format: "jsonl" } }, parseAs: "text" });
check(typeof lines.data === "string" && lines.response.headers.get("content-type")?.startsWith("application/jsonl") === true, "jsonl answer");
const parsed: unknown[] = lines.data.trim().split("\n").map((line): unknown => JSON.parse(line));
check(parsed.length >= journal.length, `jsonl has ${parsed.length} lines, the JSON array ${journal.length} entries`);

console.log(`generated client: ok (${journal.length} journal entries, ${seen.length} jobs listed)`);
