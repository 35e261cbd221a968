//! The disk's fault model, one promise per test.

use redoubt_core::env::{Disk, FileId, OpenMode};

use super::inode::Inode;
use super::*;

fn disk() -> SimDisk {
    SimDisk::new(DiskOptions::default(), SimRng::new(1, 3))
}

fn disk_with(faults: DiskFaults, seed: u64) -> SimDisk {
    let mut disk = SimDisk::new(DiskOptions::default(), SimRng::new(seed, 3));
    disk.set_faults(faults);
    disk
}

fn write_file(disk: &mut SimDisk, path: &str, data: &[u8]) -> FileId {
    let file = disk.open(path, OpenMode::Append).unwrap();
    assert_eq!(disk.write(file, data).unwrap(), data.len());
    file
}

fn is_eio(error: &io::Error) -> bool {
    error.raw_os_error() == Some(5)
}

/// A process crash keeps written bytes; power loss keeps only durable.
#[test]
fn crash_kinds_keep_written_or_durable() {
    for kind in [CrashKind::Process, CrashKind::PowerLoss] {
        let mut disk = disk();
        let file = write_file(&mut disk, "a.aof", b"synced");
        disk.fsync(file).unwrap();
        disk.fsync_dir(".").unwrap();
        disk.write(file, b"+unsynced").unwrap();
        disk.crash(kind);
        let expected: &[u8] = match kind {
            CrashKind::Process => b"synced+unsynced",
            CrashKind::PowerLoss => b"synced",
        };
        assert_eq!(disk.contents("a.aof").unwrap(), expected);
        assert!(disk.open("a.aof", OpenMode::Read).is_ok());
        disk.check_invariants();
    }
}

/// A process crash drops pending background fsyncs: what they covered
/// stays only in the page cache.
#[test]
fn process_crash_drops_pending_fsyncs() {
    let mut disk = disk();
    let file = write_file(&mut disk, "a", b"data");
    disk.fsync_dir(".").unwrap();
    disk.fsync_background(file, 1).unwrap();
    disk.crash(CrashKind::Process);
    assert!(disk.pending_due_ms().is_empty(), "pending fsyncs die");
    assert!(disk.complete_due(u64::MAX).is_empty());
    assert_eq!(disk.contents("a").unwrap(), b"data", "page cache kept");
    assert_eq!(
        disk.durable_contents("a").unwrap(),
        b"",
        "never made durable"
    );
}

/// A new file whose directory was never fsynced vanishes on power loss,
/// even if its data was fsynced, and the lost entry is counted.
#[test]
fn new_entry_needs_dir_fsync() {
    let mut disk = disk();
    let file = write_file(&mut disk, "new.rdb", b"data");
    disk.fsync(file).unwrap();
    disk.crash(CrashKind::PowerLoss);
    assert!(disk.contents("new.rdb").is_none());
    assert_eq!(disk.list(".").unwrap(), Vec::<String>::new());
    assert_eq!(disk.counts().entries_lost, 1, "the create was reverted");
}

/// The same steps as `rename_and_remove_follow_dir_fsync` up to the
/// unsynced rename.
fn disk_with_unsynced_rename() -> SimDisk {
    let mut disk = disk();
    let old = write_file(&mut disk, "dump.rdb", b"old");
    disk.fsync(old).unwrap();
    let temp = write_file(&mut disk, "temp.rdb", b"new");
    disk.fsync(temp).unwrap();
    disk.fsync_dir(".").unwrap();
    disk.rename("temp.rdb", "dump.rdb").unwrap();
    disk
}

/// A rename is visible at once and durable only after the dir fsync;
/// before it, power loss brings the old names back.
#[test]
fn rename_and_remove_follow_dir_fsync() {
    let mut disk = disk_with_unsynced_rename();
    assert_eq!(disk.list(".").unwrap(), vec!["dump.rdb".to_string()]);
    assert_eq!(disk.contents("dump.rdb").unwrap(), b"new");
    let mut lost = disk_with_unsynced_rename();
    lost.crash(CrashKind::PowerLoss);
    disk.fsync_dir(".").unwrap();
    disk.crash(CrashKind::PowerLoss);
    assert_eq!(disk.contents("dump.rdb").unwrap(), b"new");
    assert!(disk.contents("temp.rdb").is_none());
    assert_eq!(lost.contents("dump.rdb").unwrap(), b"old");
    assert_eq!(lost.contents("temp.rdb").unwrap(), b"new");
    disk.remove("dump.rdb").unwrap();
    assert!(disk.open("dump.rdb", OpenMode::Read).is_err());
    disk.crash(CrashKind::Process);
    disk.crash(CrashKind::PowerLoss);
    assert_eq!(
        disk.contents("dump.rdb").unwrap(),
        b"new",
        "an unsynced remove is undone by power loss, even after a process crash"
    );
}

/// Directories list files and subdirectories; a subdirectory needs its
/// parent fsynced to survive power loss.
#[test]
fn directories_list_and_survive() {
    let mut disk = disk();
    disk.create_dir("appendonlydir").unwrap();
    assert!(disk.create_dir("appendonlydir").is_err());
    write_file(&mut disk, "appendonlydir/a.1.incr.aof", b"x");
    write_file(&mut disk, "appendonlydir/a.1.base.rdb", b"y");
    assert_eq!(
        disk.list("appendonlydir").unwrap(),
        vec!["a.1.base.rdb".to_string(), "a.1.incr.aof".to_string()]
    );
    assert_eq!(disk.list(".").unwrap(), vec!["appendonlydir".to_string()]);
    assert!(disk.open("missing/x", OpenMode::Append).is_err());
    assert!(disk.open("appendonlydir", OpenMode::Append).is_err());
    disk.fsync_dir(".").unwrap();
    disk.crash(CrashKind::PowerLoss);
    assert_eq!(disk.list("appendonlydir").unwrap(), Vec::<String>::new());
}

/// A background fsync makes what it covered durable only when it completes.
#[test]
fn background_fsync_completes_later() {
    let mut disk = disk();
    let file = write_file(&mut disk, "a.aof", b"one");
    disk.fsync_dir(".").unwrap();
    disk.fsync_background(file, 9).unwrap();
    disk.write(file, b"two").unwrap();
    assert_eq!(disk.durable_contents("a.aof").unwrap(), b"");
    let due = disk.pending_due_ms()[0];
    assert!(due >= 1);
    assert!(disk.complete_due(due - 1).is_empty());
    let done = disk.complete_due(due);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].0, 9);
    assert_eq!(
        disk.durable_contents("a.aof").unwrap(),
        b"one",
        "only what was written before submission"
    );
    disk.check_invariants();
}

/// Writes beyond the capacity are short, then fail with ENOSPC; truncating
/// and removing free space at once and writing resumes.
#[test]
fn full_disk_gives_short_writes_then_enospc_until_space_is_freed() {
    let options = DiskOptions {
        capacity_bytes: 4,
        ..DiskOptions::default()
    };
    let mut disk = SimDisk::new(options, SimRng::new(1, 3));
    let file = disk.open("f", OpenMode::Append).unwrap();
    assert_eq!(
        disk.write(file, b"abcdef").unwrap(),
        4,
        "what fits is stored"
    );
    assert_eq!(disk.free_space(".").unwrap(), 0);
    let error = disk.write(file, b"g").unwrap_err();
    assert_eq!(error.raw_os_error(), Some(28), "nothing fits: ENOSPC");
    assert_eq!(
        disk.counts().enospc_writes,
        2,
        "both writes were cut by capacity"
    );
    disk.truncate(file, 1).unwrap();
    assert_eq!(disk.free_bytes(), 3, "truncation frees space at once");
    let mut buf = [0u8; 8];
    assert_eq!(disk.read_at(file, 0, &mut buf).unwrap(), 1);
    assert_eq!(&buf[..1], b"a");
    disk.close_file(file).unwrap();
    disk.remove("f").unwrap();
    assert_eq!(disk.used_bytes_total(), 0, "removal frees space at once");
    write_file(&mut disk, "g", b"wxyz");
    disk.check_invariants();
}

/// Lays down a durable sector of 'A', a second durable sector of 'A' cut
/// off by an unsynced truncation, then 2048 unsynced bytes of 'B' from
/// offset 512, and cuts the power under `model`.
fn torn_file(seed: u64, model: PowerLossModel) -> SimDisk {
    let faults = DiskFaults {
        power_loss: model,
        ..DiskFaults::default()
    };
    let mut disk = disk_with(faults, seed);
    let file = write_file(&mut disk, "f", &[b'A'; 1024]);
    disk.fsync(file).unwrap();
    disk.fsync_dir(".").unwrap();
    disk.truncate(file, 512).unwrap();
    disk.write(file, &[b'B'; 2048]).unwrap();
    disk.check_invariants();
    disk.crash(CrashKind::PowerLoss);
    disk.check_invariants();
    disk
}

/// What one sector of `torn_file` turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    New,
    Old,
    Zeros,
    Other,
}

fn classify(sector: &[u8], old: u8) -> Seen {
    match sector {
        _ if sector.iter().all(|b| *b == b'B') => Seen::New,
        _ if old != 0 && sector.iter().all(|b| *b == old) => Seen::Old,
        _ if sector.iter().all(|b| *b == 0) => Seen::Zeros,
        _ => Seen::Other,
    }
}

/// The sectors of `torn_file` past the durable first one, classified.
fn torn_sectors(disk: &SimDisk) -> Vec<Seen> {
    let bytes = disk.contents("f").unwrap();
    assert_eq!(
        &bytes[..512],
        &[b'A'; 512][..],
        "the fsynced sector survives"
    );
    assert!(
        [1024, 1536, 2048, 2560].contains(&bytes.len()),
        "the length ends at a sector: {}",
        bytes.len()
    );
    let sectors = bytes[512..].chunks(512).enumerate();
    sectors
        .map(|(at, sector)| classify(sector, if at == 0 { b'A' } else { 0 }))
        .collect()
}

/// Each sector outcome appears over seeds, every sector is whole (never a
/// mix), and each power loss draws one outcome per unsynced sector.
#[test]
fn power_loss_sector_outcomes_all_appear_and_stay_whole() {
    let mut seen = BTreeSet::new();
    for seed in 1..=200 {
        let disk = torn_file(seed, PowerLossModel::torn());
        let counts = disk.counts();
        let drawn = counts.sectors_kept
            + counts.sectors_dropped
            + counts.sectors_zeroed
            + counts.sectors_garbage;
        assert_eq!(drawn, 4, "one outcome per unsynced sector");
        seen.extend(torn_sectors(&disk));
    }
    let all = [Seen::New, Seen::Old, Seen::Zeros, Seen::Other];
    assert_eq!(
        seen,
        all.into(),
        "kept, dropped, torn and garbage all appear"
    );
    for seed in 1..=50 {
        let model = PowerLossModel {
            garbage_weight: 0,
            all_kept_percent: 0,
            ..PowerLossModel::torn()
        };
        let sectors = torn_sectors(&torn_file(seed, model));
        assert!(
            !sectors.contains(&Seen::Other),
            "without garbage a sector is new, old or zeros, whole: {sectors:?}"
        );
    }
}

/// The length after power loss is the old durable length extended to the
/// last sector not dropped, never past the page cache; dropped bytes
/// below the durable length come back as their old content.
#[test]
fn power_loss_length_and_old_content() {
    let dropped = torn_file(1, PowerLossModel::default());
    assert_eq!(
        dropped.contents("f").unwrap(),
        &[b'A'; 1024][..],
        "a clean loss restores the durable image, truncation undone"
    );
    let kept = PowerLossModel {
        kept_weight: 1,
        dropped_weight: 0,
        ..PowerLossModel::default()
    };
    let mut expected = vec![b'A'; 512];
    expected.extend_from_slice(&[b'B'; 2048]);
    assert_eq!(torn_file(1, kept).contents("f").unwrap(), &expected[..]);
    let faults = DiskFaults {
        power_loss: kept,
        ..DiskFaults::default()
    };
    let mut disk = disk_with(faults, 1);
    let file = write_file(&mut disk, "g", &[1; 100]);
    disk.fsync(file).unwrap();
    disk.fsync_dir(".").unwrap();
    disk.write(file, &[2; 300]).unwrap();
    disk.crash(CrashKind::PowerLoss);
    assert_eq!(
        disk.contents("g").unwrap().len(),
        400,
        "never past the page cache"
    );
}

/// With `all_kept_percent` at 100, every unsynced byte survives.
#[test]
fn power_loss_can_keep_everything() {
    let model = PowerLossModel {
        all_kept_percent: 100,
        ..PowerLossModel::torn()
    };
    let sectors = torn_sectors(&torn_file(3, model));
    assert_eq!(sectors, vec![Seen::New; 4]);
}

/// Whatever a successful fsync covered survives any power loss, whatever
/// the sizes and the outcomes of the sectors around it.
#[test]
fn fsynced_data_always_survives_power_loss() {
    for seed in 1..=100 {
        let faults = DiskFaults {
            power_loss: PowerLossModel::torn(),
            ..DiskFaults::default()
        };
        let mut disk = disk_with(faults, seed);
        let mut sizes = SimRng::new(seed, 99);
        let file = disk.open("f", OpenMode::Append).unwrap();
        disk.fsync_dir(".").unwrap();
        let mut synced = Vec::new();
        for round in 0..20u8 {
            let chunk = vec![round + 1; sizes.range(1, 1500) as usize];
            disk.write(file, &chunk).unwrap();
            if sizes.percent(50) {
                disk.fsync(file).unwrap();
                synced = disk.contents("f").unwrap().to_vec();
            }
        }
        disk.crash(CrashKind::PowerLoss);
        let after = disk.contents("f").unwrap();
        assert!(
            after.len() >= synced.len(),
            "seed {seed}: fsynced length kept"
        );
        assert_eq!(
            &after[..synced.len()],
            &synced[..],
            "seed {seed}: fsynced bytes kept"
        );
    }
}

/// A lost fsync reports success; what it covered never becomes durable,
/// not even after a later successful fsync, while reads still show it.
/// Past the old durable length it comes back as zeros, below it as the old
/// content.
#[test]
fn lost_fsync_is_never_durable() {
    let lost = DiskFaults {
        fsync_lost_ppm: PPM,
        ..DiskFaults::default()
    };
    let mut disk = disk();
    let file = write_file(&mut disk, "f", b"AAAA");
    disk.fsync(file).unwrap();
    disk.fsync_dir(".").unwrap();
    disk.truncate(file, 2).unwrap();
    disk.write(file, b"BBBBBB").unwrap();
    disk.set_faults(lost);
    disk.fsync(file).unwrap();
    disk.heal();
    disk.write(file, b"CC").unwrap();
    disk.fsync(file).unwrap();
    assert_eq!(disk.contents("f").unwrap(), b"AABBBBBBCC", "reads show all");
    assert_eq!(
        disk.durable_contents("f").unwrap(),
        b"AAAA\0\0\0\0CC",
        "old content below the old durable length, zeros past it"
    );
    assert_eq!(disk.counts().fsyncs_lost, 1);
    disk.crash(CrashKind::PowerLoss);
    assert_eq!(disk.contents("f").unwrap(), b"AAAA\0\0\0\0CC");
}

/// An fsync error is reported once (EIO, sometimes ENOSPC); the next fsync
/// succeeds, yet what the failed one covered is not durable: Linux.
#[test]
fn fsync_error_loses_what_it_covered() {
    let mut errnos = BTreeSet::new();
    for seed in 1..=40 {
        let failing = DiskFaults {
            fsync_error_ppm: PPM,
            ..DiskFaults::default()
        };
        let mut disk = disk_with(DiskFaults::default(), seed);
        let file = write_file(&mut disk, "f", b"one");
        disk.fsync_dir(".").unwrap();
        disk.set_faults(failing);
        errnos.insert(disk.fsync(file).unwrap_err().raw_os_error().unwrap());
        disk.heal();
        disk.fsync(file).expect("the error is reported once");
        disk.write(file, b"two").unwrap();
        disk.fsync(file).unwrap();
        assert_eq!(disk.contents("f").unwrap(), b"onetwo");
        assert_eq!(disk.durable_contents("f").unwrap(), b"\0\0\0two");
        assert_eq!(disk.counts().fsync_errors, 1);
    }
    assert_eq!(errnos, [5, 28].into(), "EIO, and sometimes ENOSPC");
}

/// A background fsync drawn to fail reports EIO at completion and loses
/// what it covered; an armed one does the same.
#[test]
fn background_fsync_error_loses_what_it_covered() {
    for armed in [false, true] {
        let mut disk = disk();
        let file = write_file(&mut disk, "f", b"one");
        disk.fsync_dir(".").unwrap();
        match armed {
            true => disk.arm().fsync_errors = 1,
            false => disk.set_faults(DiskFaults {
                fsync_error_ppm: PPM,
                ..DiskFaults::default()
            }),
        }
        disk.fsync_background(file, 1).unwrap();
        disk.heal();
        disk.write(file, b"two").unwrap();
        let done = disk.complete_due(u64::MAX);
        assert!(done[0].1.is_err(), "the error arrives with the completion");
        disk.fsync(file).unwrap();
        assert_eq!(disk.durable_contents("f").unwrap(), b"\0\0\0two");
        assert_eq!(disk.counts().fsync_errors, 1);
    }
}

/// A read error is EIO and counted; reads work again once healed.
#[test]
fn read_error_is_eio() {
    let mut disk = disk();
    let file = write_file(&mut disk, "f", b"data");
    disk.set_faults(DiskFaults {
        read_error_ppm: PPM,
        ..DiskFaults::default()
    });
    let mut buf = [0u8; 4];
    assert!(is_eio(&disk.read_at(file, 0, &mut buf).unwrap_err()));
    assert_eq!(disk.counts().read_errors, 1);
    disk.heal();
    assert_eq!(disk.read_at(file, 0, &mut buf).unwrap(), 4);
}

/// A write error stores nothing; a short write stores a prefix and says
/// so, never `Ok(0)`: an empty prefix is ENOSPC.
#[test]
fn write_errors_and_short_writes() {
    let mut disk = disk_with(
        DiskFaults {
            write_error_ppm: PPM,
            ..DiskFaults::default()
        },
        1,
    );
    let file = disk.open("f", OpenMode::Append).unwrap();
    assert!(is_eio(&disk.write(file, b"data").unwrap_err()));
    assert_eq!(disk.size(file).unwrap(), 0, "a failed write stores nothing");
    let short = DiskFaults {
        short_write_ppm: PPM,
        ..DiskFaults::default()
    };
    let (mut prefixes, mut refused) = (0, 0);
    for seed in 1..=100 {
        let mut disk = disk_with(short.clone(), seed);
        let file = disk.open("f", OpenMode::Append).unwrap();
        match disk.write(file, b"0123456789") {
            Ok(n) => {
                assert!(n > 0 && n < 10, "a short write is short and not empty: {n}");
                assert_eq!(disk.contents("f").unwrap(), &b"0123456789"[..n]);
                prefixes += 1;
            }
            Err(error) => {
                assert_eq!(error.raw_os_error(), Some(28), "an empty prefix is ENOSPC");
                assert_eq!(disk.contents("f").unwrap(), b"");
                refused += 1;
            }
        }
        assert_eq!(disk.counts().short_writes, 1);
    }
    assert!(
        prefixes > 0 && refused > 0,
        "{prefixes} prefixes, {refused} refusals"
    );
}

/// Metadata calls fail with EIO and change nothing; opening to read does
/// not count as metadata.
#[test]
fn metadata_errors_change_nothing() {
    let mut disk = disk();
    let file = write_file(&mut disk, "f", b"data");
    disk.create_dir("d").unwrap();
    disk.set_faults(DiskFaults {
        metadata_error_ppm: PPM,
        ..DiskFaults::default()
    });
    assert!(is_eio(&disk.open("new", OpenMode::Append).unwrap_err()));
    assert!(is_eio(&disk.create_dir("e").unwrap_err()));
    assert!(is_eio(&disk.rename("f", "g").unwrap_err()));
    assert!(is_eio(&disk.remove("f").unwrap_err()));
    assert!(is_eio(&disk.truncate(file, 0).unwrap_err()));
    assert!(is_eio(&disk.fsync_dir(".").unwrap_err()));
    assert!(
        disk.open("f", OpenMode::Read).is_ok(),
        "reading is no metadata"
    );
    assert_eq!(disk.counts().metadata_errors, 6);
    assert_eq!(
        disk.list(".").unwrap(),
        vec!["d".to_string(), "f".to_string()]
    );
    assert_eq!(disk.contents("f").unwrap(), b"data");
    disk.crash(CrashKind::PowerLoss);
    assert!(
        disk.contents("f").is_none(),
        "the failed dir fsync made nothing durable"
    );
}

/// A bit flip at rest changes exactly one bit of a closed file, in the page
/// cache and the durable image alike, where it says; open files are spared.
#[test]
fn bit_flip_is_detectable_by_comparing() {
    let mut disk = disk();
    let open = write_file(&mut disk, "open", b"busy");
    disk.fsync(open).unwrap();
    assert_eq!(disk.flip_bit_at_rest(""), None, "no closed file yet");
    let file = write_file(&mut disk, "f", &[7; 1000]);
    disk.fsync(file).unwrap();
    disk.fsync_dir(".").unwrap();
    disk.close_file(file).unwrap();
    let (path, offset) = disk.flip_bit_at_rest("").expect("a closed file");
    assert_eq!(path, "f");
    for bytes in [
        disk.contents("f").unwrap().to_vec(),
        disk.durable_contents("f").unwrap(),
    ] {
        let differing: Vec<usize> = (0..1000).filter(|at| bytes[*at] != 7).collect();
        assert_eq!(differing, vec![offset as usize], "one byte differs");
        assert_eq!((bytes[offset as usize] ^ 7).count_ones(), 1, "by one bit");
    }
    assert_eq!(disk.counts().bit_flips, 1);
}

/// A misdirected write changes the durable image only: the page cache is
/// untouched, the range's own place keeps its old content, and a copy lands
/// at a sector-aligned offset. It happens at most once per disk.
#[test]
fn misdirected_write_changes_durable_image_once() {
    let mut disk = disk();
    let original: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8 + 1).collect();
    let file = write_file(&mut disk, "f", &original);
    disk.fsync(file).unwrap();
    disk.fsync_dir(".").unwrap();
    disk.set_faults(DiskFaults {
        misdirected_write_ppm: PPM,
        ..DiskFaults::default()
    });
    disk.write(file, &[0xEE; 1024]).unwrap();
    disk.fsync(file).unwrap();
    assert_eq!(disk.counts().misdirected_writes, 1);
    let cache = disk.contents("f").unwrap().to_vec();
    assert_eq!(
        &cache[8192..],
        &[0xEE; 1024][..],
        "the page cache is untouched"
    );
    let durable = disk.durable_contents("f").unwrap();
    assert_eq!(
        &durable[8192..],
        &[0; 1024][..],
        "its own place kept old content"
    );
    let landed = (0..=8192)
        .step_by(512)
        .find(|at| durable[*at..*at + 1024] == [0xEE; 1024]);
    assert!(
        landed.is_some(),
        "the bytes landed at a sector-aligned offset"
    );
    disk.write(file, &[0xDD; 512]).unwrap();
    disk.fsync(file).unwrap();
    assert_eq!(disk.counts().misdirected_writes, 1, "at most once per disk");
    assert_eq!(
        &disk.durable_contents("f").unwrap()[9216..],
        &[0xDD; 512][..]
    );
    disk.crash(CrashKind::PowerLoss);
    assert_eq!(
        &disk.contents("f").unwrap()[..9216],
        &durable[..],
        "seen after power loss"
    );
}

/// A background fsync completing after a later synchronous fsync, or after
/// a later background fsync, never moves durability backwards.
#[test]
fn late_background_fsync_never_moves_durability_backwards() {
    let mut disk = disk();
    let file = write_file(&mut disk, "f", b"one");
    disk.fsync_dir(".").unwrap();
    disk.fsync_background(file, 1).unwrap();
    disk.write(file, b"two").unwrap();
    disk.fsync(file).unwrap();
    disk.complete_due(u64::MAX);
    assert_eq!(disk.durable_contents("f").unwrap(), b"onetwo");
    disk.set_faults(DiskFaults {
        slow_ppm: PPM,
        slow_ms_min: 5000,
        slow_ms_max: 5000,
        ..DiskFaults::default()
    });
    disk.write(file, b"three").unwrap();
    disk.fsync_background(file, 2).unwrap();
    disk.heal();
    disk.write(file, b"four").unwrap();
    disk.fsync_background(file, 3).unwrap();
    let done = disk.complete_due(1000);
    assert_eq!(done.len(), 1, "the later fsync completes first");
    assert_eq!(disk.durable_contents("f").unwrap(), b"onetwothreefour");
    assert_eq!(disk.complete_due(u64::MAX).len(), 1);
    assert_eq!(disk.durable_contents("f").unwrap(), b"onetwothreefour");
    disk.check_invariants();
}

/// The ordering invariant is asserted: an older durable version panics.
#[test]
#[should_panic(expected = "durability moved backwards")]
fn durable_version_going_back_panics() {
    let mut inode = Inode::default();
    inode.set_durable_version(5);
    inode.set_durable_version(3);
}

/// A background fsync covers the length at submission, cut by a later
/// truncation, and not the bytes written after it.
#[test]
fn background_fsync_after_truncation() {
    let mut disk = disk();
    let file = write_file(&mut disk, "f", b"batch1partial");
    disk.fsync_dir(".").unwrap();
    disk.fsync_background(file, 1).unwrap();
    disk.truncate(file, 6).unwrap();
    disk.write(file, b"batch2").unwrap();
    disk.complete_due(u64::MAX);
    assert_eq!(disk.durable_contents("f").unwrap(), b"batch1");
    disk.check_invariants();
}

/// After `die_after_calls(n)`, n calls complete, then every call fails with
/// EIO and changes nothing, until a crash or `revive`.
#[test]
fn dies_between_two_calls() {
    let mut disk = disk();
    disk.die_after_calls(2);
    let file = disk.open("f", OpenMode::Append).unwrap();
    assert_eq!(disk.write(file, b"one").unwrap(), 3);
    assert!(disk.is_dead(), "dead once its calls are spent");
    assert!(is_eio(&disk.write(file, b"two").unwrap_err()));
    assert!(is_eio(&disk.fsync_dir(".").unwrap_err()));
    assert_eq!(
        disk.contents("f").unwrap(),
        b"one",
        "the dead write did nothing"
    );
    disk.crash(CrashKind::Process);
    assert!(!disk.is_dead(), "the crash clears it");
    let file = disk.open("f", OpenMode::Append).unwrap();
    disk.die_after_calls(0);
    assert!(is_eio(&disk.size(file).unwrap_err()));
    disk.revive();
    assert_eq!(disk.size(file).unwrap(), 3);
}

/// Slow calls stall the caller by their time, taken once; a slow background
/// fsync completes that much later; synchronous fsyncs take their time.
#[test]
fn slow_operations_stall_or_delay() {
    let options = DiskOptions {
        sync_fsync_ms_min: 7,
        sync_fsync_ms_max: 7,
        ..DiskOptions::default()
    };
    let mut disk = SimDisk::new(options, SimRng::new(1, 3));
    let file = write_file(&mut disk, "f", b"x");
    disk.fsync(file).unwrap();
    assert_eq!(disk.take_stall_ms(), 7);
    disk.set_faults(DiskFaults {
        slow_ppm: PPM,
        slow_ms_min: 3000,
        slow_ms_max: 3000,
        ..DiskFaults::default()
    });
    disk.write(file, b"y").unwrap();
    assert_eq!(disk.take_stall_ms(), 3000);
    assert_eq!(disk.take_stall_ms(), 0, "taken once");
    disk.fsync_background(file, 1).unwrap();
    assert_eq!(disk.take_stall_ms(), 0, "a background fsync stalls nobody");
    assert!(disk.pending_due_ms()[0] > 3000, "it completes later");
    assert_eq!(disk.counts().slow_ops, 2);
}

/// After `heal`, no fault fires, armed ones included.
#[test]
fn heal_stops_every_fault() {
    let everything = DiskFaults {
        write_error_ppm: PPM,
        fsync_error_ppm: PPM,
        read_error_ppm: PPM,
        metadata_error_ppm: PPM,
        ..DiskFaults::default()
    };
    let mut disk = disk_with(everything, 1);
    disk.arm().write_errors = 5;
    disk.heal();
    let file = write_file(&mut disk, "f", b"data");
    disk.fsync(file).unwrap();
    disk.fsync_dir(".").unwrap();
    assert_eq!(disk.read_at(file, 0, &mut [0; 4]).unwrap(), 4);
    assert_eq!(disk.counts(), DiskFaultCounts::default());
}

/// Recording lists each call with its outcome, and nothing when off.
#[test]
fn recording_lists_calls_with_outcomes() {
    let mut disk = disk();
    let file = write_file(&mut disk, "f", b"unrecorded");
    assert!(disk.take_calls().is_empty(), "nothing recorded when off");
    disk.set_recording(true);
    disk.set_now_ms(42);
    disk.arm().short_writes = 1;
    disk.write(file, b"0123456789").unwrap();
    disk.set_faults(DiskFaults {
        fsync_lost_ppm: PPM,
        ..DiskFaults::default()
    });
    disk.fsync(file).unwrap();
    disk.remove("missing").unwrap_err();
    let calls = disk.take_calls();
    let outcomes: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|c| (c.op, c.path.as_str(), c.outcome.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("write", "f", "short 5/10"),
            ("fsync", "f", "lost"),
            ("remove", "missing", "ENOENT")
        ]
    );
    assert_eq!(calls[0].at_ms, 42);
}

/// Runs a fixed script of calls under every fault, returning what a run
/// would compare: recorded calls, counts and the durable image.
fn scripted_run(seed: u64) -> (Vec<DiskCall>, DiskFaultCounts, Option<Vec<u8>>) {
    let faults = DiskFaults {
        write_error_ppm: 100_000,
        short_write_ppm: 100_000,
        fsync_error_ppm: 100_000,
        fsync_lost_ppm: 100_000,
        read_error_ppm: 100_000,
        metadata_error_ppm: 100_000,
        misdirected_write_ppm: 100_000,
        slow_ppm: 100_000,
        slow_ms_min: 1,
        slow_ms_max: 5000,
        power_loss: PowerLossModel::torn(),
    };
    let mut disk = disk_with(faults, seed);
    disk.set_recording(true);
    let _ = disk.create_dir("d");
    for round in 0..200u64 {
        let file = disk.open("d/f", OpenMode::Append).unwrap_or(0);
        let _ = disk.write(file, &vec![round as u8; 700]);
        let _ = disk.fsync(file);
        let _ = disk.fsync_background(file, round);
        let _ = disk.read_at(file, round, &mut [0; 64]);
        let _ = disk.fsync_dir("d");
        let _ = disk.fsync_dir(".");
        disk.complete_due(round * 10);
        disk.set_now_ms(round * 10);
        if round % 50 == 49 {
            disk.crash(CrashKind::PowerLoss);
        }
    }
    disk.check_invariants();
    (
        disk.take_calls(),
        disk.counts(),
        disk.durable_contents("d/f"),
    )
}

/// The same seed and calls give identical calls, counts and durable
/// images; another seed does not.
#[test]
fn same_seed_same_disk() {
    let first = scripted_run(5);
    assert_eq!(first, scripted_run(5), "replaying a seed repeats the disk");
    assert_ne!(first, scripted_run(6), "the seed drives the faults");
    assert!(
        first.1.power_losses == 4 && first.1.fsyncs_lost > 0,
        "{:?}",
        first.1
    );
}

/// Appending 100 MiB in 4 KiB batches with an fsync after each copies no
/// byte for durability: an fsync costs what it syncs, not the file size.
#[test]
fn fsync_cost_follows_dirty_bytes_not_file_size() {
    const BATCH_BYTES: usize = 4096;
    const BATCHES: usize = 100 * 256;
    let mut disk = disk();
    let file = disk.open("appendonly.aof", OpenMode::Append).unwrap();
    let batch = vec![b'x'; BATCH_BYTES];
    for _ in 0..BATCHES {
        assert_eq!(disk.write(file, &batch).unwrap(), BATCH_BYTES);
        disk.fsync(file).unwrap();
    }
    let cost = disk.cost();
    assert_eq!(
        cost.bytes_synced,
        (BATCH_BYTES * BATCHES) as u64,
        "each byte synced once"
    );
    assert_eq!(
        cost.bytes_copied, 0,
        "no byte copied to keep the durable image"
    );
    assert_eq!(disk.size(file).unwrap(), (BATCH_BYTES * BATCHES) as u64);
}

/// Any sequence of calls, bad handles and crashes included, under every
/// fault, never panics and keeps the representation consistent.
#[test]
fn random_calls_never_panic() {
    for seed in 1..=30 {
        let faults = DiskFaults {
            write_error_ppm: 50_000,
            short_write_ppm: 50_000,
            fsync_error_ppm: 50_000,
            fsync_lost_ppm: 50_000,
            read_error_ppm: 50_000,
            metadata_error_ppm: 50_000,
            misdirected_write_ppm: 10_000,
            power_loss: PowerLossModel::torn(),
            ..DiskFaults::default()
        };
        let options = DiskOptions {
            capacity_bytes: 64 * 1024,
            ..DiskOptions::default()
        };
        let mut disk = SimDisk::new(options, SimRng::new(seed, 3));
        disk.set_faults(faults);
        let mut script = SimRng::new(seed, 77);
        for step in 0..2000 {
            random_call(&mut disk, &mut script, step);
            disk.check_invariants();
        }
    }
}

/// One seeded call of `random_calls_never_panic`.
fn random_call(disk: &mut SimDisk, script: &mut SimRng, step: u64) {
    let paths = ["a", "b", "d/c", "d", "missing/x"];
    let path = paths[script.index(paths.len())];
    let file = script.range(0, 12);
    match script.range(0, 15) {
        0 => drop(disk.open(path, OpenMode::Append)),
        1 => drop(disk.open(path, OpenMode::CreateTruncate)),
        2 => drop(disk.open(path, OpenMode::Read)),
        3 | 4 => drop(disk.write(file, &vec![step as u8; script.range(0, 3000) as usize])),
        5 => drop(disk.read_at(file, script.range(0, 5000), &mut [0; 100])),
        6 => drop(disk.truncate(file, script.range(0, 5000))),
        7 => drop(disk.fsync(file)),
        8 => drop(disk.fsync_background(file, step)),
        9 => drop(disk.close_file(file)),
        10 => drop(disk.rename(path, paths[script.index(paths.len())])),
        11 => drop(disk.remove(path)),
        12 => drop(disk.create_dir(path)),
        13 => drop(disk.fsync_dir(if script.percent(50) { "." } else { "d" })),
        14 => drop(disk.complete_due(step)),
        _ => match script.range(0, 3) {
            0 => disk.crash(CrashKind::PowerLoss),
            1 => disk.crash(CrashKind::Process),
            2 => drop(disk.flip_bit_at_rest("")),
            _ => disk.die_after_calls(script.range(0, 3)),
        },
    }
    disk.set_now_ms(step);
}

/// `Extents` agrees with a byte-per-offset model under seeded inserts,
/// removals, zeroing and cuts: splitting never loses or shifts a byte.
#[test]
fn extents_match_a_byte_model() {
    use super::extents::Extents;
    const SPAN: u64 = 64;
    for seed in 1..=50 {
        let mut script = SimRng::new(seed, 5);
        let mut extents = Extents::default();
        let mut model: Vec<Option<u8>> = vec![None; SPAN as usize];
        for step in 0..200u64 {
            let start = script.range(0, SPAN - 1);
            let end = script.range(start, SPAN);
            let span = start as usize..end as usize;
            match script.range(0, 3) {
                0 => {
                    let bytes: Vec<u8> = (start..end).map(|at| (at + step) as u8).collect();
                    extents.insert(start, bytes.clone());
                    model[span]
                        .iter_mut()
                        .zip(bytes)
                        .for_each(|(m, b)| *m = Some(b));
                }
                1 => {
                    extents.remove_range(start, end);
                    model[span].fill(None);
                }
                2 => {
                    extents.zero_range(start, end);
                    model[span].iter_mut().for_each(|m| *m = m.map(|_| 0));
                }
                _ => {
                    extents.remove_from(start);
                    model[start as usize..].fill(None);
                }
            }
            let mut seen = vec![None; SPAN as usize];
            for (at, bytes) in extents.iter() {
                for (offset, byte) in bytes.iter().enumerate() {
                    assert!(
                        seen[at as usize + offset].is_none(),
                        "extents never overlap"
                    );
                    seen[at as usize + offset] = Some(*byte);
                }
            }
            assert_eq!(seen, model, "seed {seed} step {step}");
            let gaps: Vec<u64> = extents
                .gaps(0, SPAN)
                .iter()
                .flat_map(|(a, b)| *a..*b)
                .collect();
            let holes: Vec<u64> = (0..SPAN)
                .filter(|at| model[*at as usize].is_none())
                .collect();
            assert_eq!(gaps, holes, "gaps are exactly the uncovered bytes");
        }
    }
}

/// A full-copy model of one file: the page cache, the durable image and
/// the offsets written since they were last made durable or lost.
#[derive(Default)]
struct NaiveFile {
    cache: Vec<u8>,
    durable: Vec<u8>,
    dirty: BTreeSet<usize>,
}

impl NaiveFile {
    fn truncate(&mut self, len: usize) {
        let old = self.cache.len();
        self.cache.resize(len, 0);
        self.dirty.retain(|at| *at < len);
        self.dirty.extend(old..len);
    }

    fn sync(&mut self) {
        self.durable.resize(self.cache.len(), 0);
        for at in std::mem::take(&mut self.dirty) {
            self.durable[at] = self.cache[at];
        }
    }
}

/// The durable image equals a naive full copy kept byte by byte, under
/// seeded appends, truncations, fsyncs (some lost), process crashes and
/// clean power losses.
#[test]
fn durable_image_matches_a_naive_model() {
    for seed in 1..=60 {
        let mut disk = disk_with(DiskFaults::default(), seed);
        let mut script = SimRng::new(seed, 6);
        let mut naive = NaiveFile::default();
        let mut file = disk.open("f", OpenMode::Append).unwrap();
        disk.fsync_dir(".").unwrap();
        for step in 0..300u64 {
            match script.range(0, 9) {
                0..=3 => {
                    let data = vec![(step % 250) as u8 + 1; script.range(1, 900) as usize];
                    disk.write(file, &data).unwrap();
                    naive
                        .dirty
                        .extend(naive.cache.len()..naive.cache.len() + data.len());
                    naive.cache.extend_from_slice(&data);
                }
                4 | 5 => {
                    let len = script.range(0, naive.cache.len() as u64 + 600);
                    disk.truncate(file, len).unwrap();
                    naive.truncate(len as usize);
                }
                6 => {
                    disk.fsync(file).unwrap();
                    naive.sync();
                }
                7 => {
                    let lost = DiskFaults {
                        fsync_lost_ppm: PPM,
                        ..DiskFaults::default()
                    };
                    disk.set_faults(lost);
                    disk.fsync(file).unwrap();
                    disk.heal();
                    naive.dirty.clear();
                }
                8 => {
                    disk.crash(CrashKind::Process);
                    file = disk.open("f", OpenMode::Append).unwrap();
                }
                _ => {
                    disk.crash(CrashKind::PowerLoss);
                    naive.cache = naive.durable.clone();
                    naive.dirty.clear();
                    file = disk.open("f", OpenMode::Append).unwrap();
                }
            }
            disk.check_invariants();
            assert_eq!(
                disk.contents("f").unwrap(),
                &naive.cache[..],
                "seed {seed} step {step}"
            );
            let durable = disk.durable_contents("f").unwrap();
            assert_eq!(
                durable, naive.durable,
                "seed {seed} step {step}: durable image"
            );
        }
    }
}

/// A background fsync submitted before a short write that is then cut back
/// still makes what it covered durable.
#[test]
fn background_fsync_survives_a_later_cut_back_short_write() {
    for seed in 0..50 {
        let mut disk = SimDisk::new(DiskOptions::default(), SimRng::new(seed, 3));
        disk.set_faults(DiskFaults {
            power_loss: PowerLossModel {
                kept_weight: 4,
                dropped_weight: 2,
                zeroed_weight: 0,
                garbage_weight: 0,
                all_kept_percent: 4,
            },
            ..DiskFaults::default()
        });
        disk.create_dir("d").unwrap();
        disk.fsync_dir(".").unwrap();
        let file = disk.open("d/f", OpenMode::Append).unwrap();
        disk.write(file, &[b'm'; 18]).unwrap();
        disk.fsync(file).unwrap();
        disk.fsync_dir("d").unwrap();
        disk.write(file, &[b'b'; 6065]).unwrap();
        disk.fsync_background(file, 1).unwrap();
        let used = disk.used_bytes_total();
        disk.set_capacity_bytes(used + 17);
        for _ in 0..3 {
            assert_eq!(disk.write(file, &[b'x'; 160]).unwrap(), 17);
            disk.truncate(file, 6083).unwrap();
        }
        let due = disk.pending_due_ms()[0];
        let done = disk.complete_due(due);
        assert!(done[0].1.is_ok());
        for _ in 0..3 {
            assert_eq!(disk.write(file, &[b'x'; 160]).unwrap(), 17);
            disk.truncate(file, 6083).unwrap();
        }
        disk.crash(CrashKind::Process);
        disk.crash(CrashKind::PowerLoss);
        let contents = disk.contents("d/f").unwrap();
        assert_eq!(contents.len(), 6083);
        assert!(
            contents[18..].iter().all(|&b| b == b'b'),
            "seed {seed}: what the background fsync covered is durable"
        );
    }
}
