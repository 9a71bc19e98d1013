// The dashboard behind the admin role, as a browser uses it: Chromium (driven by playwright-core)
// is challenged for Basic credentials, a reader's key is refused, and with the admin key the
// dashboard's page and every request its script makes succeed, and its overview counts the cluster's silo.
// Run: node browser/dashboard.mjs <base URL> <admin key> <reader key>
import { chromium } from "playwright-core";

const [baseUrl, adminKey, readerKey] = process.argv.slice(2);
if (baseUrl === undefined || adminKey === undefined || readerKey === undefined) {
  throw new Error("usage: node browser/dashboard.mjs <base URL> <admin key> <reader key>");
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

// Headless, and quiet on a closed network: no background fetches, no component updates.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = `${baseUrl}/dashboard/`;

  // Without credentials the browser is asked for them (a Basic challenge); headless, it has none to give.
  const anonymous = await browser.newContext();
  const challenge = await anonymous.request.get(page);
  check(challenge.status() === 401, `no key: ${challenge.status()}`);
  check((challenge.headers()["www-authenticate"] ?? "").startsWith("Basic"), `no Basic challenge: ${JSON.stringify(challenge.headers())}`);
  const navigation = await (await anonymous.newPage()).goto(page).then(() => "loaded", (error) => String(error));
  check(navigation.includes("ERR_INVALID_AUTH_CREDENTIALS"), `no key, the page: ${navigation}`);
  await anonymous.close();

  const reader = await browser.newContext({ httpCredentials: { username: "reader", password: readerKey } });
  const refused = await (await reader.newPage()).goto(page);
  check(refused.status() === 403, `reader key: ${refused.status()}`);
  await reader.close();

  const admin = await browser.newContext({ httpCredentials: { username: "admin", password: adminKey } });
  const tab = await admin.newPage();
  const failed = [];
  let dashboardCalls = 0;
  tab.on("response", (response) => {
    if (response.url().startsWith(page)) {
      dashboardCalls++;
      if (response.status() >= 400) {
        failed.push(`${response.status()} ${response.url()}`);
      }
    }
  });
  const opened = await tab.goto(page);
  check(opened.status() === 200, `admin key: ${opened.status()}`);
  // The dashboard polls the cluster through its own endpoints; its overview counts the silo once they answer.
  await tab.waitForFunction(() => /active silos\s+1\b/i.test(document.body.innerText), undefined, { timeout: 30_000 });
  check(failed.length === 0, `dashboard requests failed: ${failed.join(", ")}`);
  check(dashboardCalls > 3, `only ${dashboardCalls} dashboard requests`);
  console.log(`dashboard: challenged, reader refused, admin page and ${dashboardCalls} dashboard requests answered, active silo counted`);
  await admin.close();
} finally {
  await browser.close();
}
