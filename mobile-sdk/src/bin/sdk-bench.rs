//! P7 benchmark: the phone store with 2,000 households (and one visit each): open the store,
//! list all households, search by name, address and ID-number suffix, and assess each
//! household's means offline (target ≤ 1 ms per household).
//!
//! ```text
//! cargo build -p doudi-server --bin doudi
//! cargo run --release -p doudi-sdk --bin sdk-bench -- [--households N] [--runs N] [--doudi PATH]
//! ```
//!
//! A real `doudi demo` server is started on loopback only to log in (the store's documents are
//! written with the device's actor id) and to receive the region policy book (and the demo's
//! households) in one sync before capturing; capturing, listing, searching and assessing are
//! offline. Each household's means: 户籍 type, the head's circumstances, a wage, and rigid
//! expenditure in every fifth. Times are medians of `--runs` runs (default 21), each open on a
//! fresh `DoudiClient`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use doudi_protocol::id_number::check_char;
use doudi_sdk::{
    DoudiClient, ExpenditureInput, ExpenditureKind, Health, HukouType, IncomeClass, IncomeInput,
    IncomeSource, MemberDetails, Period, VisitPurpose, WorkCapacity,
};

const KEY: [u8; 32] = [0x5a; 32];
const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"];
const GIVEN: [&str; 10] = [
    "建国", "秀英", "桂兰", "志强", "玉梅", "德明", "淑珍", "国华", "春燕", "海军",
];

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(doudi: &PathBuf, data: &std::path::Path) -> Result<(Server, String), String> {
    let mut child = Command::new(doudi)
        .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", doudi.display()))?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let server = Server(child);
    for line in BufReader::new(out).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(i) = line.find("http://")
            && line.contains("address")
        {
            return Ok((server, line[i..].trim().to_owned()));
        }
    }
    Err("the demo server printed no address".into())
}

fn id_number(i: usize) -> String {
    let first17 = format!(
        "370102{}{:02}{:02}{:03}",
        1940 + i % 60,
        1 + i % 12,
        1 + i % 28,
        i % 1000
    );
    let c = check_char(&first17).expect("17 digits");
    format!("{first17}{c}")
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("sdk-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut households = 2000usize;
    let mut runs = 21usize;
    let mut doudi = PathBuf::from("target/debug/doudi");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--households" => households = value()?.parse().map_err(|e| format!("{e}"))?,
            "--runs" => runs = value()?.parse().map_err(|e| format!("{e}"))?,
            "--doudi" => doudi = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let tmp = std::env::temp_dir().join(format!("doudi-sdk-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let (_server, url) = start_server(&doudi, &tmp.join("server"))?;
    let store = tmp.join("phone").to_string_lossy().into_owned();
    let err = |e: doudi_sdk::DoudiError| e.to_string();

    let c = DoudiClient::open(store.clone(), KEY.to_vec(), url.clone(), None).map_err(err)?;
    block_on(c.login("demo-grid".into(), "doudi-demo-2026".into(), "bench".into())).map_err(err)?;
    block_on(c.sync_now(None)).map_err(err)?;
    let t = Instant::now();
    let mut ids = Vec::with_capacity(households);
    for i in 0..households {
        let name = format!("{}{}{}", SURNAMES[i % 10], GIVEN[(i / 10) % 10], i);
        let id = c
            .create_household(
                None,
                format!("千佛山街道 {} 号楼 {} 室", i / 20 + 1, i % 20 + 101),
                name,
                Some(id_number(i)),
            )
            .map_err(err)?;
        c.start_visit(id.clone(), VisitPurpose::Recheck)
            .map_err(err)?;
        ids.push(id);
    }
    let capture = t.elapsed();
    let t = Instant::now();
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(30);
    for (i, id) in ids.iter().enumerate() {
        c.set_hukou_type(id.clone(), Some(HukouType::Urban))
            .map_err(err)?;
        let head = c.household(id.clone()).map_err(err)?.members[0].id.clone();
        c.set_member_details(
            id.clone(),
            head.clone(),
            MemberDetails {
                co_resident: true,
                non_resident_reason: None,
                non_resident_note: None,
                health: Some(Health::Fair),
                disease: None,
                disability_kind: None,
                disability_grade: None,
                work_capacity: Some(WorkCapacity::PartlyLost),
                schooling: None,
                employment: Some("零工".into()),
            },
        )
        .map_err(err)?;
        c.set_income(
            id.clone(),
            None,
            IncomeInput {
                member_id: Some(head.clone()),
                income_class: IncomeClass::Wages,
                kind: "general".into(),
                amount_fen: 50_000 + (i as i64 % 200) * 1_000,
                period: Period::Month,
                evidence: None,
                source: IncomeSource::Observed,
            },
        )
        .map_err(err)?;
        if i % 5 == 0 {
            c.set_expenditure(
                id.clone(),
                None,
                ExpenditureInput {
                    kind: ExpenditureKind::Medical,
                    member_id: Some(head),
                    description: None,
                    amount_fen: 800_000,
                    incurred_on: day.to_string(),
                },
            )
            .map_err(err)?;
        }
    }
    let means = t.elapsed();
    drop(c);
    let size: u64 = std::fs::read_dir(&store)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();

    let mut open = Vec::new();
    let mut list = Vec::new();
    let mut by_name = Vec::new();
    let mut by_address = Vec::new();
    let mut by_id = Vec::new();
    let mut assess = Vec::new();
    let mut counts = (0, 0, 0, 0);
    let mut with_standard = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let c = DoudiClient::open(store.clone(), KEY.to_vec(), url.clone(), None).map_err(err)?;
        open.push(t.elapsed());
        let t = Instant::now();
        counts.0 = c.households(String::new()).len();
        list.push(t.elapsed());
        let t = Instant::now();
        counts.1 = c.households("王建国".into()).len();
        by_name.push(t.elapsed());
        let t = Instant::now();
        counts.2 = c.households("7 号楼".into()).len();
        by_address.push(t.elapsed());
        let t = Instant::now();
        counts.3 = c
            .households(id_number(households / 2)[14..].to_owned())
            .len();
        by_id.push(t.elapsed());
        let t = Instant::now();
        with_standard = 0;
        for id in &ids {
            let a = c.assessment(id.clone(), None).map_err(err)?;
            with_standard += usize::from(a.standard.is_some());
        }
        assess.push(t.elapsed() / households.max(1) as u32);
    }
    let _ = std::fs::remove_dir_all(&tmp);

    println!("P7 phone store: {households} households + {households} visits, {runs} runs, medians");
    println!(
        "  capture (create, one transaction each): {:.1} s total, {} per document",
        capture.as_secs_f64(),
        ms(capture / (2 * households) as u32)
    );
    println!(
        "  means capture (户籍, member, wage; rigid expenditure in every fifth): {:.1} s total, {} per household",
        means.as_secs_f64(),
        ms(means / households.max(1) as u32)
    );
    println!("  store files: {:.1} MB", size as f64 / 1e6);
    println!(
        "  open store (decrypt index):   {}   target <= 200 ms",
        ms(median(open))
    );
    println!(
        "  list all ({} households):   {}   target <= 50 ms",
        counts.0,
        ms(median(list))
    );
    println!(
        "  search name \"王建国\" ({} hits):  {}",
        counts.1,
        ms(median(by_name))
    );
    println!(
        "  search address \"7 号楼\" ({} hits): {}",
        counts.2,
        ms(median(by_address))
    );
    println!(
        "  search ID suffix ({} hits):     {}",
        counts.3,
        ms(median(by_id))
    );
    println!(
        "  assessment per household ({with_standard} of {households} with a standard): {}   target <= 1 ms",
        ms(median(assess))
    );
    Ok(())
}

/// Drive a future to completion on this thread (the SDK's futures need no runtime).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
