//! Where the bank comes from: the shipped bank compiled into the binary, a team's
//! packs on top of it (a pack id replaces the shipped question), and the switch that
//! leaves the shipped bank out.

use std::path::{Path, PathBuf};

use prepbot_core::bank::{BankSources, QuestionBank, SHIPPED_ROOT};

fn questions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../questions")
}

/// A pack with one question of its own and, when `replace` is set, one that takes the
/// place of the shipped `cache-stampede`.
fn pack(replace: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |topic: &str, id: &str, title: &str| {
        std::fs::create_dir_all(dir.path().join(topic)).unwrap();
        std::fs::write(
            dir.path().join(topic).join(format!("{id}.md")),
            format!(
                "+++\nid = \"{id}\"\ntitle = \"{title}\"\ntopic = \"{topic}\"\ndifficulty = \"easy\"\nkind = \"technical\"\ntags = [\"caching\"]\n+++\n\n## Question\n\nWhy?\n\n## Model answer\n\nBecause.\n\n## What interviewers look for\n\n- a reason\n\n## Common mistakes\n\n- no reason\n"
            ),
        )
        .unwrap();
    };
    write("our-stack", "our-cache-layer", "Our cache layer");
    if replace {
        write("caching", "cache-stampede", "Our take on stampedes");
    }
    dir
}

#[test]
fn the_shipped_bank_is_compiled_in_and_equals_questions_on_disk() {
    let shipped = QuestionBank::shipped().unwrap_or_else(|e| panic!("{e}"));
    let disk = QuestionBank::load(&questions_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shipped.len(), disk.len());
    for (a, b) in shipped.all().iter().zip(disk.all()) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.model_answer, b.model_answer, "{}", a.id);
        assert_eq!(a.tags, b.tags, "{}", a.id);
        assert!(a.path.starts_with(SHIPPED_ROOT), "{}", a.path.display());
    }
    assert_eq!(shipped.origins().len(), 1);
    assert_eq!(shipped.origins()[0].dir, None);
    assert!(
        shipped.origins()[0].to_string().contains("built in"),
        "{}",
        shipped.origins()[0]
    );
}

#[test]
fn packs_add_to_the_shipped_bank_and_a_shipped_id_is_replaced_and_reported() {
    let shipped = QuestionBank::shipped().unwrap();
    let dir = pack(true);
    let bank = QuestionBank::from_sources(&BankSources {
        shipped: true,
        packs: Some(dir.path().to_path_buf()),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bank.len(), shipped.len() + 1, "one new, one replaced");
    assert!(bank.get("our-cache-layer").is_some());
    assert_eq!(
        bank.get("cache-stampede").unwrap().title,
        "Our take on stampedes"
    );
    let overrides = bank.overrides();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0].id, "cache-stampede");
    assert!(overrides[0].path.starts_with(dir.path()));
    let origins: Vec<String> = bank.origins().iter().map(|o| o.to_string()).collect();
    assert_eq!(origins.len(), 2, "{origins:?}");
    assert!(origins[1].contains(&dir.path().display().to_string()));
    assert!(origins[1].contains("(2 questions)"), "{origins:?}");
}

#[test]
fn a_pack_that_repeats_the_shipped_questions_replaces_nothing_worth_reporting() {
    let bank = QuestionBank::from_sources(&BankSources {
        shipped: true,
        packs: Some(questions_dir()),
    })
    .unwrap();
    assert_eq!(bank.len(), QuestionBank::shipped().unwrap().len());
    assert!(bank.overrides().is_empty(), "{:?}", bank.overrides());
}

#[test]
fn the_switch_leaves_the_shipped_bank_out() {
    let dir = pack(false);
    let bank = QuestionBank::from_sources(&BankSources {
        shipped: false,
        packs: Some(dir.path().to_path_buf()),
    })
    .unwrap();
    let ids: Vec<&str> = bank.all().iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, ["our-cache-layer"]);
    let none = QuestionBank::from_sources(&BankSources {
        shipped: false,
        packs: None,
    })
    .unwrap_err();
    assert!(
        none.to_string().contains("PREPBOT_QUESTIONS"),
        "says how to give a bank: {none}"
    );
}

#[test]
fn a_broken_pack_is_reported_with_its_own_paths() {
    let dir = pack(false);
    std::fs::write(dir.path().join("our-stack/broken.md"), "no front matter").unwrap();
    let err = QuestionBank::from_sources(&BankSources {
        shipped: true,
        packs: Some(dir.path().to_path_buf()),
    })
    .unwrap_err();
    assert_eq!(err.0.len(), 1, "{err}");
    assert!(err.0[0].path.starts_with(dir.path()), "{err}");
}

#[test]
fn the_readme_counts_the_shipped_questions_right() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let n = QuestionBank::shipped().unwrap().len();
    assert!(
        readme.contains(&format!("It ships with {n} questions")),
        "the README's first paragraph should say \"It ships with {n} questions\""
    );
}
