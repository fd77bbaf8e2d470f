//! One table defines every setting; the documents that list them must list all of them.

use crate::support::universe;
use universe::settings::knobs::{KNOBS, markdown_table};

const BEGIN: &str = "<!-- settings table: made from src/settings/knobs.rs -->\n";
const END: &str = "<!-- end of settings table -->";

#[test]
fn the_readme_options_table_is_the_settings_table() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("the README marks its settings table")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("the table's end is marked");
    let expected = markdown_table();
    assert!(
        readme[start..end] == expected,
        "the README's settings table is out of date; it should read:\n{expected}"
    );
    for knob in KNOBS {
        assert!(readme[start..end].contains(&format!("| `{}` |", knob.key)));
    }
}

#[test]
fn universe_config_lists_every_knob_and_the_example_sets_each() {
    let home = tempfile::tempdir().unwrap();
    let run = universe(home.path(), &["config", "--json"]);
    run.assert_code(0);
    let entries = run.json()["entries"].as_array().unwrap().clone();
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/universe.toml"
    ))
    .unwrap();
    let example: toml::Table = example.parse().unwrap();
    for knob in KNOBS {
        assert!(
            entries.iter().any(|e| e["key"] == knob.key),
            "universe config misses {}",
            knob.key
        );
        let mut value = toml::Value::Table(example.clone());
        for part in knob.key.split('.') {
            value = value
                .get(part)
                .unwrap_or_else(|| panic!("examples/universe.toml misses {}", knob.key))
                .clone();
        }
        let default: toml::Table = format!("v = {}", knob.default).parse().unwrap();
        assert_eq!(
            value, default["v"],
            "{} in the example is not its default",
            knob.key
        );
    }
}
