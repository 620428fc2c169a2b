//! Reading a department's list: CSV (UTF-8, with or without a byte-order mark) or XLSX (the
//! first worksheet), a header row naming the columns of its [`Source`] in any order, then one
//! person per line. The file is checked whole: [`read`] answers every line or every bad line,
//! never a part.

use std::collections::HashMap;
use std::io::Cursor;

use chrono::{Months, NaiveDate};
use serde::Serialize;

use doudi_protocol::id_number::IdNumber;

use super::{COL_ID, COL_NAME, Source};
use crate::error::{ApiError, Code};

/// Longest name accepted (characters).
pub const MAX_NAME_CHARS: usize = 50;
/// Largest amount accepted on one line (yuan): beyond it the figure is a typing error.
pub const MAX_AMOUNT_YUAN: i64 = 100_000_000;
/// Earliest date accepted.
const EARLIEST_YEAR: i32 = 1900;

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }

    /// The format of `body`: an XLSX workbook is a ZIP archive (its magic bytes), whatever
    /// the content type says; any other body is CSV when the content type allows it (none,
    /// `text/csv`, `text/plain`, `application/octet-stream`).
    pub fn detect(content_type: Option<&str>, body: &[u8]) -> Result<FileFormat, ApiError> {
        if body.starts_with(b"PK\x03\x04") {
            return Ok(FileFormat::Xlsx);
        }
        let mime = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        match mime.as_str() {
            "" | "text/csv" | "text/plain" | "application/csv" | "application/octet-stream" => {
                Ok(FileFormat::Csv)
            }
            _ => Err(ApiError::new(Code::ImportFormatUnknown)),
        }
    }
}

/// A checked line of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its line number (the header is line 1; in a workbook, the sheet's row number).
    pub line: u32,
    pub id: IdNumber,
    pub name: String,
    pub date: NaiveDate,
    /// Fen.
    pub amount_fen: Option<i64>,
    pub grade: Option<u8>,
}

/// A line refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BadLine {
    pub line: u32,
    pub message: String,
    pub message_en: String,
}

impl BadLine {
    fn new(line: u32, zh: impl Into<String>, en: impl Into<String>) -> BadLine {
        BadLine {
            line,
            message: zh.into(),
            message_en: en.into(),
        }
    }
}

/// The refusal of a file with bad lines: `import.invalid`, every line in `details.lines`.
pub fn refusal(bad: Vec<BadLine>) -> ApiError {
    let n = bad.len();
    let first: Vec<String> = bad.iter().take(5).map(|b| b.line.to_string()).collect();
    ApiError::new(Code::ImportInvalid)
        .with_message(
            format!(
                "导入文件有 {n} 行错误（第 {} 行等），未导入任何内容。请按行号修改后重新导入。",
                first.join("、")
            ),
            format!(
                "The file has {n} bad lines (lines {}…); nothing was imported. Fix them and import again.",
                first.join(", ")
            ),
        )
        .with_details(serde_json::json!({ "bad_line_count": n, "lines": bad }))
}

/// The rows of a file as text, each with its line number; the first is the header.
fn rows(
    format: FileFormat,
    body: &[u8],
    max_rows: usize,
) -> Result<Vec<(u32, Vec<String>)>, ApiError> {
    let too_many = || {
        ApiError::new(Code::ImportTooManyRows)
            .with_message(
                format!("导入文件超过 {max_rows} 行数据，请拆分后分批导入。"),
                format!(
                    "The file has more than {max_rows} data lines; split it and import the parts."
                ),
            )
            .with_details(serde_json::json!({ "max_rows": max_rows }))
    };
    let mut out = Vec::new();
    match format {
        FileFormat::Csv => {
            let text = std::str::from_utf8(body).map_err(|_| {
                ApiError::new(Code::ImportFormatUnknown).with_message(
                    "CSV 文件须为 UTF-8 编码（在 Excel 或 WPS 中另存为“CSV UTF-8”），或改为导入 XLSX 文件。",
                    "A CSV file must be UTF-8 (save as \"CSV UTF-8\"), or import the XLSX file.",
                )
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            // The line of a record is counted from its byte offset: the reader's own count
            // leaves out blank lines.
            let bytes = text.as_bytes();
            let (mut counted_to, mut line_at) = (0usize, 1u32);
            let mut line_of = |byte: usize| {
                let end = byte.min(bytes.len());
                if end > counted_to {
                    line_at += bytes[counted_to..end]
                        .iter()
                        .filter(|b| **b == b'\n')
                        .count() as u32;
                    counted_to = end;
                }
                line_at
            };
            for rec in reader.records() {
                let rec = rec.map_err(|e| {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    refusal(vec![BadLine::new(
                        line as u32,
                        format!("第 {line} 行不是有效的 CSV（引号不成对或编码有误）"),
                        format!("line {line} is not valid CSV (unbalanced quotes or bad encoding)"),
                    )])
                })?;
                let line = rec
                    .position()
                    .map(|p| {
                        // The position may be that of blank lines the reader skipped.
                        let mut start = p.byte() as usize;
                        while bytes.get(start).is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                            start += 1;
                        }
                        line_of(start)
                    })
                    .unwrap_or(0);
                if out.len() > max_rows {
                    return Err(too_many());
                }
                out.push((line, rec.iter().map(|c| c.trim().to_string()).collect()));
            }
        }
        FileFormat::Xlsx => {
            use calamine::{Data, Reader, Xlsx};
            let unreadable = || {
                ApiError::new(Code::ImportFormatUnknown).with_message(
                    "XLSX 文件无法读取（文件损坏或不是 Excel 2007 及以后的工作簿）。",
                    "The XLSX file cannot be read (damaged, or not an Excel 2007+ workbook).",
                )
            };
            let mut book: Xlsx<_> = Xlsx::new(Cursor::new(body)).map_err(|_| unreadable())?;
            let range = book
                .worksheet_range_at(0)
                .ok_or_else(unreadable)?
                .map_err(|_| unreadable())?;
            let (first_row, _) = range.start().unwrap_or((0, 0));
            if range.height() > max_rows + 1 {
                return Err(too_many());
            }
            for (i, row) in range.rows().enumerate() {
                let cells: Vec<String> = row
                    .iter()
                    .map(|c| match c {
                        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
                            s.trim().to_string()
                        }
                        Data::Int(n) => n.to_string(),
                        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                            format!("{}", *f as i64)
                        }
                        Data::Float(f) => f.to_string(),
                        Data::Bool(b) => b.to_string(),
                        Data::DateTime(d) => excel_date(d.as_f64())
                            .map(|d| d.to_string())
                            .unwrap_or_default(),
                        Data::Error(_) => "#错误".to_string(),
                        Data::Empty => String::new(),
                    })
                    .collect();
                out.push((first_row + i as u32 + 1, cells));
            }
        }
    }
    // Blank lines (every cell empty) are not lines of the list.
    out.retain(|(_, cells)| cells.iter().any(|c| !c.is_empty()));
    if out.len() > max_rows + 1 {
        return Err(too_many());
    }
    Ok(out)
}

/// The date of an Excel serial day number (1900 date system).
fn excel_date(serial: f64) -> Option<NaiveDate> {
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    base.checked_add_days(chrono::Days::new(serial.floor().max(0.0) as u64))
}

/// A date as departments write it: `2026-03-15`, `2026/3/15`, `2026.3.15`, `20260315` or
/// `2026年3月15日`, optionally followed by a time.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let day = s.split_whitespace().next()?;
    let day = day.split('T').next()?;
    if day.len() == 8 && day.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(day, "%Y%m%d").ok();
    }
    let parts: Vec<&str> = day
        .split(['-', '/', '.', '年', '月', '日'])
        .filter(|p| !p.is_empty())
        .collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// An amount in yuan (`1234.5`, `1,234.50`, `¥1234`), at most 2 decimals, as fen.
pub fn parse_amount(s: &str) -> Option<i64> {
    let t: String = s
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | '¥' | '￥' | ' ' | '元'))
        .collect();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t.as_str(), ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 12
    {
        return None;
    }
    let yuan: i64 = whole.parse().ok()?;
    let fen: i64 = format!("{frac:0<2}").parse().ok()?;
    Some(yuan * 100 + fen)
}

/// A disability grade (残疾等级): `1`–`4`, `1级`, `一级`…`四级`.
pub fn parse_grade(s: &str) -> Option<u8> {
    let t = s.trim().trim_end_matches('级');
    match t {
        "1" | "一" => Some(1),
        "2" | "二" => Some(2),
        "3" | "三" => Some(3),
        "4" | "四" => Some(4),
        _ => None,
    }
}

/// Check a whole file of `source`: every line, or every bad line (the header's problems
/// first). `today` bounds the dates (no event lies in the future).
pub fn read(
    source: Source,
    format: FileFormat,
    body: &[u8],
    max_rows: usize,
    today: NaiveDate,
) -> Result<Vec<Line>, ApiError> {
    let rows = rows(format, body, max_rows)?;
    let Some(((header_line, header), data)) = rows.split_first() else {
        return Err(refusal(vec![BadLine::new(
            1,
            "文件为空：第 1 行应为表头",
            "The file is empty: line 1 must be the header",
        )]));
    };
    let layout = source.layout();
    let mut wanted = vec![COL_ID, COL_NAME, layout.date];
    wanted.extend(layout.amount);
    wanted.extend(layout.grade);
    let at: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim(), i))
        .map(|(h, i)| (wanted.iter().copied().find(|w| *w == h).unwrap_or(""), i))
        .filter(|(h, _)| !h.is_empty())
        .collect();
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !at.contains_key(w))
        .collect();
    if !missing.is_empty() {
        return Err(refusal(vec![BadLine::new(
            *header_line,
            format!(
                "表头缺少列：{}（{}应有列：{}）",
                missing.join("、"),
                source.label_zh(),
                wanted.join("、")
            ),
            format!(
                "the header lacks the columns {} (a {} list has: {})",
                missing.join(", "),
                source.as_str(),
                wanted.join(", ")
            ),
        )]));
    }
    let earliest = NaiveDate::from_ymd_opt(EARLIEST_YEAR, 1, 1).unwrap_or(NaiveDate::MIN);
    let mut lines = Vec::with_capacity(data.len());
    let mut bad = Vec::new();
    for (line, cells) in data {
        let cell = |col: &str| {
            at.get(col)
                .and_then(|&i| cells.get(i))
                .map(String::as_str)
                .unwrap_or("")
        };
        let mut zh: Vec<String> = Vec::new();
        let mut en: Vec<String> = Vec::new();
        // More cells than the header has: a value with an unquoted comma was split.
        if cells.iter().skip(header.len()).any(|c| !c.is_empty()) {
            zh.push(format!(
                "有 {} 列，多于表头的 {} 列（含逗号的内容须加英文双引号）",
                cells.len(),
                header.len()
            ));
            en.push(format!(
                "{} cells, more than the header's {} (quote values holding a comma)",
                cells.len(),
                header.len()
            ));
        }
        let id = match IdNumber::parse(cell(COL_ID)) {
            Ok(id) => Some(id),
            Err(_) if cell(COL_ID).is_empty() => {
                zh.push("缺少身份证号".into());
                en.push("the ID number is missing".into());
                None
            }
            Err(e) => {
                zh.push(e.message_zh().to_string());
                en.push(e.to_string());
                None
            }
        };
        let name = cell(COL_NAME);
        if name.is_empty() {
            zh.push("缺少姓名".into());
            en.push("the name is missing".into());
        } else if name.chars().count() > MAX_NAME_CHARS {
            zh.push(format!("姓名超过 {MAX_NAME_CHARS} 个字"));
            en.push(format!(
                "the name is longer than {MAX_NAME_CHARS} characters"
            ));
        }
        let date = match parse_date(cell(layout.date)) {
            _ if cell(layout.date).is_empty() => {
                zh.push(format!("缺少{}", layout.date));
                en.push(format!("{} is missing", layout.date));
                None
            }
            None => {
                zh.push(format!(
                    "{}“{}”不是有效日期（应为 2026-03-15 这样的日期）",
                    layout.date,
                    cell(layout.date)
                ));
                en.push(format!(
                    "{} is not a date (write e.g. 2026-03-15)",
                    layout.date
                ));
                None
            }
            Some(d) if d > today || d < earliest => {
                zh.push(format!(
                    "{}“{}”晚于今天或早于 {EARLIEST_YEAR} 年",
                    layout.date, d
                ));
                en.push(format!(
                    "{} {d} is after today or before {EARLIEST_YEAR}",
                    layout.date
                ));
                None
            }
            Some(d) => Some(d),
        };
        let amount_fen = layout.amount.and_then(|col| {
            let v = cell(col);
            match parse_amount(v) {
                _ if v.is_empty() => {
                    zh.push(format!("缺少{col}"));
                    en.push(format!("{col} is missing"));
                    None
                }
                Some(f) if f <= MAX_AMOUNT_YUAN * 100 => Some(f),
                _ => {
                    zh.push(format!("{col}“{v}”不是有效金额（以元为单位，最多两位小数，不超过 {MAX_AMOUNT_YUAN} 元）"));
                    en.push(format!("{col} is not an amount (yuan, at most 2 decimals, at most {MAX_AMOUNT_YUAN})"));
                    None
                }
            }
        });
        let grade = layout.grade.and_then(|col| {
            let v = cell(col);
            match parse_grade(v) {
                Some(g) => Some(g),
                None => {
                    zh.push(format!("{col}“{v}”应为 1 至 4 级"));
                    en.push(format!("{col} must be a grade from 1 to 4"));
                    None
                }
            }
        });
        if !zh.is_empty() {
            bad.push(BadLine::new(
                *line,
                format!("第 {line} 行：{}", zh.join("；")),
                format!("line {line}: {}", en.join("; ")),
            ));
            continue;
        }
        if let (Some(id), Some(date)) = (id, date) {
            lines.push(Line {
                line: *line,
                id,
                name: name.to_string(),
                date,
                amount_fen,
                grade,
            });
        }
    }
    if !bad.is_empty() {
        return Err(refusal(bad));
    }
    if lines.is_empty() {
        return Err(refusal(vec![BadLine::new(
            *header_line,
            "文件只有表头，没有数据行",
            "The file has a header but no lines",
        )]));
    }
    Ok(lines)
}

/// The first day of the 12-month window that ends on `day` (its day included).
pub fn twelve_months_before(day: NaiveDate) -> NaiveDate {
    day.checked_sub_months(Months::new(12))
        .and_then(|d| d.succ_opt())
        .unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_amounts_and_grades_as_departments_write_them() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        for s in [
            "2026-03-05",
            "2026/3/5",
            "2026.3.5",
            "20260305",
            "2026年3月5日",
            "2026-03-05 10:00:00",
        ] {
            assert_eq!(parse_date(s), Some(d), "{s}");
        }
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("三月"), None);
        assert_eq!(parse_amount("1,234.5"), Some(123_450));
        assert_eq!(parse_amount("¥80"), Some(8_000));
        assert_eq!(parse_amount("1.234"), None);
        assert_eq!(parse_amount("-5"), None);
        assert_eq!(parse_grade("二级"), Some(2));
        assert_eq!(parse_grade("5"), None);
        assert_eq!(
            twelve_months_before(NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()),
            NaiveDate::from_ymd_opt(2025, 12, 7).unwrap()
        );
    }

    #[test]
    fn a_file_is_read_whole_or_refused_with_every_bad_line() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let good = "\u{feff}姓名,身份证号,结算日期,自付金额\n李秀英,11010519491231002X,2026-05-01,3000\n\n王五,110105194912310038,2026/6/1,12.5\n";
        let lines = read(Source::Medical, FileFormat::Csv, good.as_bytes(), 10, today).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[1].line, lines[1].amount_fen), (4, Some(1250)));
        let bad = "身份证号,姓名,结算日期,自付金额\n110105194912310039,李四,2026-05-01,3000\n11010519491231002X,,2027-01-01,abc\n";
        let e = read(Source::Medical, FileFormat::Csv, bad.as_bytes(), 10, today).unwrap_err();
        assert_eq!(e.code, Code::ImportInvalid);
        let lines = e.details.unwrap()["lines"].clone();
        assert_eq!(lines.as_array().unwrap().len(), 2);
        assert_eq!(lines[0]["line"], 2);
        assert!(lines[1]["message"].as_str().unwrap().contains("缺少姓名"));
        let first_bad = |source, text: &str| {
            let e = read(source, FileFormat::Csv, text.as_bytes(), 10, today).unwrap_err();
            e.details.unwrap()["lines"][0]["message"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(first_bad(Source::Disability, good).contains("残疾等级"));
        // An amount with an unquoted comma splits the line: refused, not read as 8 yuan.
        let split =
            "身份证号,姓名,结算日期,自付金额\n11010519491231002X,李秀英,2026-05-01,8,000.50\n";
        assert!(first_bad(Source::Medical, split).contains("多于表头"));
        let e = read(Source::Medical, FileFormat::Csv, good.as_bytes(), 1, today).unwrap_err();
        assert_eq!(e.code, Code::ImportTooManyRows);
    }
}
