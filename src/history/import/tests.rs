//! One archive file read and judged: header or none, milliseconds or microseconds, and
//! each way a file is refused, by line.

use std::io::Write as _;

use super::tree::{ArchiveFile, Kind};
use super::zipped::{self, Refusal, Rows};

/// 2024-01-01 00:00 UTC and the 15m after it.
const T0: i64 = 1_704_067_200_000;
const M15: i64 = 900_000;

/// A monthly January kline file holding `csv`, zipped into `dir`, with a `.CHECKSUM`
/// unless `checksum` is `None` (`Some("")`: the right one).
fn file(dir: &std::path::Path, csv: &str, checksum: Option<&str>) -> ArchiveFile {
    let path = dir.join("XUSDT-15m-2024-01.zip");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("XUSDT-15m-2024-01.csv", options).unwrap();
    zip.write_all(csv.as_bytes()).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    std::fs::write(&path, &bytes).unwrap();
    if let Some(sum) = checksum {
        let sum = if sum.is_empty() {
            crate::digest::sha256_hex(&bytes)
        } else {
            sum.to_owned()
        };
        let line = format!("{sum}  XUSDT-15m-2024-01.zip\n");
        std::fs::write(dir.join("XUSDT-15m-2024-01.zip.CHECKSUM"), line).unwrap();
    }
    ArchiveFile {
        name: "monthly/klines/XUSDT/15m/XUSDT-15m-2024-01.zip".into(),
        path,
        symbol: "XUSDT".into(),
        kind: Kind::Klines,
        monthly: true,
        period: (T0, 1_706_745_600_000),
    }
}

/// A kline row at `t` (ms) in `unit` (1 or 1000).
fn row(t: i64, unit: i64, close: &str) -> String {
    format!(
        "{},10,12,9,{close},100,{},1050.5,7,50,500,0\n",
        t * unit,
        (t + M15) * unit - 1
    )
}

const HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";

fn refused(csv: &str) -> Refusal {
    let dir = tempfile::tempdir().unwrap();
    zipped::open(&file(dir.path(), csv, Some(""))).unwrap_err()
}

#[test]
fn header_or_none_ms_or_micros_read_the_same() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = format!("{}{}", row(T0, 1, "11"), row(T0 + M15, 1, "11.5"));
    let styled = format!(
        "{HEADER}{}{}",
        row(T0, 1000, "11"),
        row(T0 + M15, 1000, "11.5")
    );
    let a = zipped::open(&file(one.path(), &plain, Some(""))).unwrap();
    let b = zipped::open(&file(two.path(), &styled, None)).unwrap();
    assert_eq!((a.micros, a.verified), (false, true));
    assert_eq!((b.micros, b.verified), (true, false));
    assert_eq!(a.rows, b.rows);
    let Rows::Klines(rows) = a.rows else {
        panic!("klines")
    };
    assert_eq!(rows[1], (T0 + M15, [10.0, 12.0, 9.0, 11.5, 100.0, 1050.5]));
}

#[test]
fn a_bad_row_refuses_the_file_by_line() {
    let ok = row(T0, 1, "11");
    let cases = [
        (format!("{ok}{ok}"), 2, "repeats or comes before"),
        (
            format!("{}{ok}", row(T0 + M15, 1, "11")),
            2,
            "repeats or comes before",
        ),
        (
            format!("{HEADER}{ok}{}", row(T0 + M15, 1, "13")),
            3,
            "breaks the candle rules",
        ),
        (
            format!("{ok}{}", row(T0 + M15, 1000, "11")),
            2,
            "other units",
        ),
        (
            format!("{ok}{}", row(T0 + 7, 1, "11")),
            2,
            "not on the 15-minute grid",
        ),
        (
            format!("{ok}{}", row(T0 - M15, 1, "11")),
            2,
            "outside the file's period",
        ),
        (
            format!("{ok}{}", row(T0 + M15, 1, "NaN")),
            2,
            "breaks the candle rules",
        ),
        (
            format!("{ok}{}", row(T0 + M15, 1, "x")),
            2,
            "close \"x\" is not a number",
        ),
        (format!("{ok}1704068100000,10,12\n"), 2, "3 columns, not 12"),
        (
            ok.replace(",1704068099999,", ",1704068099998,"),
            1,
            "close time",
        ),
        (
            format!("time,open\n{ok}"),
            1,
            "a header that does not start with open_time",
        ),
    ];
    for (csv, line, said) in cases {
        let refusal = refused(&csv);
        assert_eq!(refusal.line, Some(line), "{csv}: {refusal}");
        assert!(refusal.problem.contains(said), "{csv}: {refusal}");
    }
}

#[test]
fn a_zip_that_unpacks_to_gigabytes_is_refused_without_unpacking_it() {
    let dir = tempfile::tempdir().unwrap();
    // the file's place, then 80 MB of zeros (80 kB zipped) written over it
    let f = file(dir.path(), "", None);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("XUSDT-15m-2024-01.csv", options).unwrap();
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..80 {
        zip.write_all(&zeros).unwrap();
    }
    std::fs::write(&f.path, zip.finish().unwrap().into_inner()).unwrap();
    let bomb = zipped::open(&f).unwrap_err();
    assert!(
        bomb.problem.contains("unpacks to more than 64 MB"),
        "{bomb}"
    );
}

#[test]
fn a_file_that_is_not_what_its_checksum_says_is_refused_whole() {
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let csv = row(T0, 1, "11");
    let wrong = zipped::open(&file(dirs[0].path(), &csv, Some(&"ab".repeat(32)))).unwrap_err();
    assert!(wrong.problem.contains("torn or altered"), "{wrong}");
    let garbled = zipped::open(&file(dirs[1].path(), &csv, Some("not a sum"))).unwrap_err();
    assert!(
        garbled.problem.contains("its .CHECKSUM is not"),
        "{garbled}"
    );
    let f = file(dirs[2].path(), &csv, None);
    std::fs::write(&f.path, b"PK\x03\x04 torn").unwrap();
    let torn = zipped::open(&f).unwrap_err();
    assert_eq!(torn.line, None);
    assert!(
        torn.problem.starts_with("is not a zip that opens"),
        "{torn}"
    );
}
