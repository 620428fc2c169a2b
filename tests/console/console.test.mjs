// Browser test of the review console: the real `doudi demo` server driven by headless Chromium
// (Debian's package) through playwright-core. Screenshots go to tests/artifacts/.
//
// Run: (cd tests/console && npm ci && node --test)   — needs target/debug/doudi and /usr/bin/chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const artifacts = join(root, 'tests', 'artifacts');
const bin = process.env.DOUDI_BIN ?? join(root, 'target', 'debug', 'doudi');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const axeSource = join(here, 'node_modules', 'axe-core', 'axe.min.js');

let server;
let base;
/// Everything the demo server wrote to stdout and stderr.
let serverLog = '';
let dataDir;
let browser;

function startDemo() {
  return new Promise((resolveStart, reject) => {
    dataDir = mkdtempSync(join(tmpdir(), 'doudi-console-'));
    server = spawn(bin, ['demo', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`demo did not start:\n${out}`)), 60_000);
    server.stdout.on('data', (chunk) => {
      out += chunk;
      serverLog += chunk;
      const m = out.match(/address:\s+(http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolveStart(m[1]);
      }
    });
    server.stderr.on('data', (chunk) => { out += chunk; serverLog += chunk; });
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo exited with ${code}:\n${out}`));
    });
  });
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  base = await startDemo();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) server.kill('SIGTERM');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a town reviewer returns a visit with a comment', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  const page = await context.newPage();

  // Unauthenticated pages lead to the login form.
  await page.goto(`${base}/console/queue`);
  assert.match(new URL(page.url()).pathname, /\/console\/login$/);
  await page.fill('input[name=username]', 'demo-town');
  await page.fill('input[name=password]', 'doudi-demo-2026');
  await Promise.all([page.waitForURL('**/console/queue'), page.click('button[type=submit]')]);

  // The queue lists the demo's submitted visits with their due dates.
  const rows = page.locator('table.list tbody tr');
  assert.ok((await rows.count()) >= 3, 'the queue shows the demo visits');
  assert.equal(await page.locator('h1').innerText(), '审核队列');
  await page.screenshot({ path: join(artifacts, 'console-queue.png'), fullPage: true });

  // Open a visit: household, masked ID numbers, the household's means as the assessment gives
  // them (the demo city's standard, per-capita income, indicators, the notice), history.
  await Promise.all([page.waitForURL('**/console/visits/*'), rows.first().locator('a').first().click()]);
  const visitUrl = page.url();
  assert.equal(await page.locator('h1').innerText(), '走访记录');
  const body = await page.locator('main').innerText();
  assert.match(body, /人均月收入/);
  assert.match(body, /城市低保标准1000\.00元\/人\/月（地区370100000000自2026-01-01起执行/);
  assert.match(body, /提示，不是结论/);
  assert.match(body, /测算线索/);
  assert.match(body, /本次走访对家庭档案的修改/);
  assert.match(body, /\d{6}\*{4}\d{3}[\dX]/, 'ID numbers are masked');
  assert.match(body, /修改记录/);
  assert.match(body, /已提交/);
  await page.screenshot({ path: join(artifacts, 'console-visit.png'), fullPage: true });

  // Return it to the investigators with a comment.
  const comment = '请补充家庭成员务工收入的证明材料';
  await page.fill('form.d-return textarea[name=comment]', comment);
  // Back on the visit's page (with the next visit waiting offered).
  await Promise.all([
    page.waitForURL((u) => u.pathname === new URL(visitUrl).pathname),
    page.click('form.d-return button[type=submit]'),
  ]);
  assert.match(await page.locator('main').innerText(), /决定已记录/);
  const after = await page.locator('main').innerText();
  assert.match(after, /已退回/);
  assert.ok(after.includes(comment), 'the comment is shown with the decision');
  assert.equal(await page.locator('form.d-approve').count(), 0, 'no further decision on a returned visit');
  await page.screenshot({ path: join(artifacts, 'console-returned.png'), fullPage: true });

  // The dashboard and the report list render (with their SVG charts).
  await page.goto(`${base}/console/dashboard`);
  assert.ok((await page.locator('svg').count()) >= 3);
  await page.goto(`${base}/console/reports`);
  assert.match(await page.locator('main').innerText(), /急难超过 24 小时未先行救助/);
  await page.screenshot({ path: join(artifacts, 'console-reports.png'), fullPage: true });

  // A report's page: whom it is about (number masked), notes, photos, location; a reason of
  // spaces only comes back beside the close form, kept.
  await Promise.all([
    page.waitForURL('**/console/reports/*'),
    page.locator('table.list a', { hasText: '周大海' }).click(),
  ]);
  const reportUrl = page.url();
  const report = await page.locator('main').innerText();
  assert.match(report, /夜间火灾/);
  assert.match(report, /\d{6}\*{4}\d{3}[\dX]/, 'the number is masked');
  assert.doesNotMatch(report, /\d{17}[\dX]/, 'no number in full');
  assert.match(report, /纬度 \d+\.\d+，经度 \d+\.\d+/);
  assert.equal(await page.locator('figure.thumb').count(), 2);
  await page.screenshot({ path: join(artifacts, 'console-report.png'), fullPage: true });
  const close = page.locator(`form[action="${new URL(reportUrl).pathname}/close"]`);
  await close.locator('textarea[name=reason]').fill('   ');
  await Promise.all([page.waitForURL('**/close'), close.locator('button[type=submit]').click()]);
  assert.match(await page.locator('main').innerText(), /办结须填写理由/);
  assert.equal(await page.locator('textarea[name=reason]').inputValue(), '   ');

  // Exports: the members' ledger downloads as CSV, numbers masked.
  await page.goto(`${base}/console/exports`);
  assert.equal(await page.locator('h1').innerText(), '导出台账');
  const members = page.locator('form[action="/console/exports/members"]');
  await members.locator('select[name=format]').selectOption('csv');
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    members.locator('button[type=submit]').click(),
  ]);
  const ledger = readFileSync(await download.path(), 'utf8');
  assert.ok(ledger.startsWith('\ufeff户编号,户主,地址'), ledger.slice(0, 80));
  assert.match(ledger, /\d{6}\*{4}\d{3}[\dX]/, 'ID numbers are masked');
  assert.doesNotMatch(ledger, /(^|,)\d{17}[\dX](,|$)/m, 'no ID number in full');

  // The quarterly report: its tables and charts, and the workbook behind its download link.
  await Promise.all([
    page.waitForURL('**/console/quarterly'),
    page.click('header nav >> text=季度报告'),
  ]);
  assert.equal(await page.locator('h1').innerText(), '季度报告');
  const quarterly = await page.locator('main').innerText();
  assert.match(quarterly, /保障对象与进出/);
  assert.match(quarterly, /时限内办结率/);
  assert.ok((await page.locator('figure.chart').count()) >= 6);
  await page.screenshot({ path: join(artifacts, 'console-quarterly.png'), fullPage: true });
  const [workbook] = await Promise.all([
    page.waitForEvent('download'),
    page.click('a.button >> text=下载 Excel'),
  ]);
  assert.match(workbook.suggestedFilename(), /^doudi-quarterly-.*\.xlsx$/);
  assert.equal(readFileSync(await workbook.path()).subarray(0, 2).toString(), 'PK');

  // Logging out ends the session.
  await Promise.all([page.waitForURL('**/console/login'), page.click('header form button')]);
  await page.goto(`${base}/console/queue`);
  assert.match(new URL(page.url()).pathname, /\/console\/login$/);
  await context.close();
});

test('the administrator manages accounts and devices and reads the audit log', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  const page = await context.newPage();
  const login = async (p, username, password, landing) => {
    await p.goto(`${base}/console/login`);
    await p.fill('input[name=username]', username);
    await p.fill('input[name=password]', password);
    await Promise.all([p.waitForURL(landing), p.click('button[type=submit]')]);
  };

  // The administrator starts on 系统管理; the navigation offers the administration pages only.
  await login(page, 'demo-admin', 'doudi-demo-2026', '**/console/admin');
  assert.equal(await page.locator('h1').innerText(), '系统管理');
  const nav = await page.locator('header nav').innerText();
  for (const item of ['账号', '设备', '手机登录码', '审计日志', '救助政策', '工作日历']) assert.ok(nav.includes(item), nav);
  for (const item of ['审核队列', '家庭查询', '导出台账']) assert.ok(!nav.includes(item), nav);
  await page.screenshot({ path: join(artifacts, 'console-admin.png'), fullPage: true });

  // Accounts: the demo accounts with roles in Chinese and regions as 名称（编码）.
  await page.click('header nav >> text=账号');
  const accounts = await page.locator('main').innerText();
  assert.match(accounts, /demo-town/);
  assert.match(accounts, /乡镇审核/);
  assert.match(accounts, /（370102002000）/);
  await page.screenshot({ path: join(artifacts, 'console-admin-accounts.png'), fullPage: true });

  // A new account: a taken user name comes back with the message and the input kept.
  await page.click('main >> text=新建账号');
  const form = page.locator('form[action="/console/admin/accounts"]');
  await form.locator('input[name=username]').fill('demo-town');
  await form.locator('input[name=display_name]').fill('周审核');
  await form.locator('select[name=role]').selectOption('town_reviewer');
  await form.locator('input[name=regions]').fill('370102002000');
  await form.locator('input[name=password]').fill('new-password-123');
  await Promise.all([page.waitForURL('**/console/admin/accounts'), form.locator('button[type=submit]').click()]);
  assert.equal(await page.locator('p.error').getAttribute('data-code'), 'account.username_taken');
  assert.equal(await form.locator('input[name=display_name]').inputValue(), '周审核');
  assert.equal(await form.locator('select[name=role]').inputValue(), 'town_reviewer');
  assert.equal(await form.locator('input[name=regions]').inputValue(), '370102002000');
  await form.locator('input[name=username]').fill('demo-town-zhou');
  await form.locator('input[name=password]').fill('new-password-123');
  await Promise.all([page.waitForURL('**/console/admin/accounts/*?done=created'), form.locator('button[type=submit]').click()]);
  const accountUrl = new URL(page.url()).pathname;
  const accountId = accountUrl.split('/').pop();
  assert.match(await page.locator('main').innerText(), /账号已创建/);
  await page.screenshot({ path: join(artifacts, 'console-admin-account.png'), fullPage: true });

  // Disable and enable it, reset its password.
  await Promise.all([page.waitForURL('**?done=disabled'), page.click(`form[action="${accountUrl}/status"] button`)]);
  assert.match(await page.locator('main').innerText(), /账号已停用/);
  await Promise.all([page.waitForURL('**?done=enabled'), page.click(`form[action="${accountUrl}/status"] button`)]);
  const reset = page.locator(`form[action="${accountUrl}/password"]`);
  await reset.locator('input[name=password]').fill('reset-password-456');
  await Promise.all([page.waitForURL('**?done=password'), reset.locator('button[type=submit]').click()]);
  assert.match(await page.locator('main').innerText(), /密码已重置/);

  // The new reviewer logs in with the new password (a web device); the administrator revokes
  // that device, confirming once more, and the reviewer's session ends.
  const other = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  const reviewer = await other.newPage();
  await login(reviewer, 'demo-town-zhou', 'reset-password-456', '**/console/queue');
  await page.goto(`${base}/console/admin/devices?account=${accountId}`);
  const revoke = page.locator('form[action$="/revoke"]').first();
  await revoke.locator('input[name=reason]').fill('电脑借给他人');
  await Promise.all([page.waitForURL('**/revoke'), revoke.locator('button[type=submit]').click()]);
  assert.match(await page.locator('main').innerText(), /不能撤回/);
  await page.screenshot({ path: join(artifacts, 'console-admin-revoke.png'), fullPage: true });
  await Promise.all([page.waitForURL('**/console/admin/devices?done=revoked'), page.click('form.d-revoke-confirm button')]);
  assert.match(await page.locator('main').innerText(), /设备已停用/);
  await reviewer.goto(`${base}/console/queue`);
  assert.match(new URL(reviewer.url()).pathname, /\/console\/login$/);
  await other.close();

  // The audit log, filtered to revocations: that one, in China time.
  await page.goto(`${base}/console/admin/audit`);
  await page.selectOption('select[name=action]', 'admin.device_revoke');
  await Promise.all([page.waitForURL('**/console/admin/audit?*'), page.click('form.filters button[type=submit]')]);
  const entries = page.locator('table.list tbody tr');
  assert.equal(await entries.count(), 1);
  assert.match(await entries.first().innerText(), /停用设备[\s\S]*电脑借给他人/);
  assert.match(await entries.first().innerText(), /\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  await page.screenshot({ path: join(artifacts, 'console-admin-audit.png'), fullPage: true });

  // A region file previewed: its bad line listed, the file kept, nothing imported.
  await page.click('header nav >> text=区划导入');
  const csv = 'code,parent_code,level,name\n370102999009,370102999000,village,新村\n';
  await page.fill('textarea[name=csv]', csv);
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/console/admin/regions')),
    page.click('form.regions-import button[type=submit]'),
  ]);
  await page.waitForLoadState('load');
  assert.equal(await page.locator('p.error').getAttribute('data-code'), 'region.csv_invalid');
  assert.match(await page.locator('table.region-errors').innerText(), /第 2 行[\s\S]*上级代码 370102999000 不存在/);
  assert.equal(await page.locator('textarea[name=csv]').inputValue(), csv);
  await page.screenshot({ path: join(artifacts, 'console-admin-regions.png'), fullPage: true });

  // The policy in force, and a layer refused for a multiplier below 1: the input kept, the
  // reason beside the setting, in Chinese.
  await page.click('header nav >> text=救助政策');
  assert.match(await page.locator('table.policy-resolved').innerText(), /城市低保边缘倍数/);
  await page.click('text=为区划新增或修改政策');
  await page.fill('input[name=effective_from]', '2027-01-01');
  await page.fill('input[name=near_dibao_multiplier_urban]', '0.9');
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/console/admin/policies')),
    page.click('form.policy-form button[type=submit]'),
  ]);
  await page.waitForLoadState('load');
  assert.equal(await page.locator('p.error[role=alert]').getAttribute('data-code'), 'policy.invalid');
  assert.match(await page.locator('[data-field=near_dibao_multiplier_urban]').innerText(), /城市低保边缘倍数：倍数不能低于1/);
  assert.equal(await page.locator('input[name=near_dibao_multiplier_urban]').inputValue(), '0.9');
  await page.screenshot({ path: join(artifacts, 'console-admin-policy.png'), fullPage: true });

  // The working-day calendar: the years covered, and a bad file previewed with its error.
  await page.click('header nav >> text=工作日历');
  assert.ok(await page.locator('table.calendar-years tr[data-year="2026"]').count());
  await page.fill('textarea[name=csv]', '2027-13-01,holiday,元旦\n');
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/console/admin/calendar')),
    page.click('form.calendar-import button[type=submit]'),
  ]);
  await page.waitForLoadState('load');
  assert.match(await page.locator('p.error[role=alert]').innerText(), /日历文件有误，未导入：节假日数据第1行有误/);
  await page.screenshot({ path: join(artifacts, 'console-admin-calendar.png'), fullPage: true });

  // No case data for the administrator.
  const refused = await page.goto(`${base}/console/queue`);
  assert.equal(refused.status(), 403);
  assert.equal(await page.locator('p.error').getAttribute('data-code'), 'policy.denied');

  await page.goto(`${base}/console/admin`);
  await Promise.all([page.waitForURL('**/console/login'), page.click('header form button')]);
  await context.close();
});

test('the administrator makes a one-time phone enrolment code, shown as text and QR code', async () => {
  // bypassCSP: axe is injected as an inline script.
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', bypassCSP: true });
  const page = await login(context, 'demo-admin');
  await page.click('header nav >> text=手机登录码');
  assert.equal(await page.locator('h1').innerText(), '手机登录码');
  const form = page.locator('form[action="/console/admin/enrolment"]');
  const options = await form.locator('select[name=account_id] option').allInnerTexts();
  assert.ok(options.some((o) => o.includes('demo-grid')), options.join());
  assert.ok(!options.some((o) => o.includes('demo-town')), options.join());
  await form.locator('select[name=account_id]').selectOption({ label: options.find((o) => o.includes('demo-grid')) });
  await Promise.all([page.waitForURL('**/console/admin/enrolment'), form.locator('button[type=submit]').click()]);
  const code = await page.locator('code.enrolment-code').innerText();
  assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
  const qr = page.locator('svg.qr');
  assert.equal(await qr.getAttribute('aria-label'), '手机登录二维码');
  assert.ok((await qr.boundingBox()).width >= 200);
  assert.match(await page.locator('main').innerText(), /有效期至\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  for (const [width, height] of [[1366, 768], [390, 844]]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: join(artifacts, `console-admin-enrolment-${width}.png`), fullPage: true });
    assert.deepEqual(await axeFindings(page), [], `${width}px`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${width}px scrolls sideways`);
  }
  // The list shows it usable, never the code; revoking it says so.
  await page.goto(`${base}/console/admin/enrolment`);
  assert.ok(!(await page.locator('main').innerText()).includes(code));
  assert.match(await page.locator('table.list tbody tr').first().innerText(), /可使用/);
  assert.deepEqual(await axeFindings(page), [], 'the list at 390px');
  await Promise.all([
    page.waitForURL('**?done=enrolment_revoked'),
    page.locator('form[action$="/revoke"] button').first().click(),
  ]);
  assert.match(await page.locator('table.list tbody tr').first().innerText(), /已作废/);
  // The code never reached the server's log.
  for (const form of [code, code.replace(/-/g, '')]) assert.ok(!serverLog.includes(form), 'the code is in the log');
  await context.close();
});

/// axe-core's serious and critical findings on the page, as readable lines.
async function axeFindings(page) {
  await page.addScriptTag({ path: axeSource });
  const found = await page.evaluate(async () => {
    const r = await globalThis.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
  return found;
}

async function login(context, username) {
  const page = await context.newPage();
  await page.goto(`${base}/console/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', 'doudi-demo-2026');
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login')), page.click('button[type=submit]')]);
  return page;
}

test('a township reviewer records a 民主评议 with the photo of its signed record', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  const page = await login(context, 'demo-town');
  // The demo's 特困 application in its 公示 already has an objection and one appraisal.
  await page.goto(`${base}/console/queue?status=approved`);
  await Promise.all([
    page.waitForURL('**/console/visits/*'),
    page.locator('table.list tbody tr', { hasText: '赵德福' }).first().locator('a').first().click(),
  ]);
  const visitPath = new URL(page.url()).pathname;
  assert.match(await page.locator('main').innerText(), /反映其侄子在县城务工/);
  const records = page.getByRole('link', { name: '签字记录', exact: true });
  assert.equal(await records.count(), 1);
  const form = page.locator('form.d-appraisal');
  await form.locator('input[name=held_on]').fill(new Date().toISOString().slice(0, 10));
  await form.locator('input[name=participants]').fill('12');
  await form.locator('input[name=votes_for]').fill('11');
  await form.locator('input[name=votes_against]').fill('0');
  // A photo taken with the phone's camera: here the smallest PNG there is.
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
    'base64',
  );
  await form.locator('input[name=record_photo]').setInputFiles({ name: '评议记录.png', mimeType: 'image/png', buffer: png });
  await Promise.all([
    page.waitForURL((u) => u.pathname === visitPath),
    form.locator('button[type=submit]').click(),
  ]);
  assert.match(await page.locator('main').innerText(), /参加 12 人，赞成 11，反对 0/);
  assert.equal(await records.count(), 2);
  await Promise.all([page.waitForURL('**/photos/*'), records.nth(1).click()]);
  const img = page.locator('figure.photo img');
  await img.waitFor();
  assert.equal(await img.evaluate((i) => i.complete && i.naturalWidth), 1, 'the uploaded photo is served back');
  await page.screenshot({ path: join(artifacts, 'console-appraisal.png'), fullPage: true });
  await context.close();
});

test('every console page passes axe for each role, at desktop and phone width', async () => {
  const problems = [];
  for (const [username, width, height] of [
    ['demo-town', 1366, 768], ['demo-county', 1366, 768], ['demo-admin', 1366, 768],
    ['demo-town', 390, 844], ['demo-admin', 390, 844],
  ]) {
    // bypassCSP: the console allows no inline script, and axe is injected as one.
    const context = await browser.newContext({ viewport: { width, height }, locale: 'zh-CN', bypassCSP: true });
    const page = await login(context, username);
    const paths = new Set(await page.locator('header nav a').evaluateAll((as) => as.map((a) => new URL(a.href).pathname)));
    // And one page of each kind the lists lead to.
    for (const [list, link] of [
      ['/console/queue', 'a[href^="/console/visits/"]'],
      ['/console/households', 'a[href^="/console/households/"]'],
      ['/console/reports', 'a[href^="/console/reports/"]'],
      ['/console/monitoring', 'a[href^="/console/monitoring/alerts/"]'],
    ]) {
      if (!paths.has(list)) continue;
      await page.goto(`${base}${list}`);
      const href = await page.locator(link).first().getAttribute('href').catch(() => null);
      if (href) paths.add(href);
      // The printable 入户调查表 of that visit.
      if (href && href.startsWith('/console/visits/')) paths.add(`${href}/print`);
    }
    for (const path of paths) {
      await page.goto(`${base}${path}`);
      for (const f of await axeFindings(page)) problems.push(`${username} ${width}px ${path}: ${f}`);
      // Nothing wider than the screen: the page never scrolls sideways.
      const wider = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (wider > 1) problems.push(`${username} ${width}px ${path}: ${wider}px wider than the screen`);
      // Chart and map text drawn at a readable size, whatever the chart is scaled to.
      const smallest = await page.locator('figure.chart svg text').evaluateAll((ts) =>
        ts.map((t) => t.getBoundingClientRect().height).filter((h) => h > 0).reduce((a, b) => Math.min(a, b), Infinity));
      if (smallest < 10) problems.push(`${username} ${width}px ${path}: chart text ${smallest.toFixed(1)}px high`);
      if (path === '/console/dashboard' && !Number.isFinite(smallest)) problems.push(`${path}: no chart text measured`);
      if (width < 600 && path === '/console/queue') {
        await page.screenshot({ path: join(artifacts, 'console-queue-phone.png'), fullPage: true });
      }
    }
    await context.close();
  }
  assert.deepEqual(problems, []);
});
