//! Charts of evaluation results, as PNG and SVG files.
//!
//! This module owns drawing what `digits eval --plot DIR` writes: the
//! confusion matrix (`confusion.png`/`.svg`), accuracy against SNR under
//! added noise (`snr.png`/`.svg`) and per-speaker accuracy of the
//! leave-one-speaker-out folds (`speakers.png`/`.svg`). It uses plotters
//! with text rendered by ab_glyph from a font built into the binary
//! (DejaVu Sans, `assets/DejaVuSans.ttf`), so no system fonts are needed.
//! Every function writes both formats and returns the paths it wrote.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::eval::{db_label, Fold, Metrics, SnrPoint};

/// DejaVu Sans (Bitstream Vera licence, see `assets/DejaVuSans-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Errors from writing charts.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: is a file, not a folder; pass --plot a folder to write the charts into (created if needed), e.g. --plot plots")]
    IsAFile { path: PathBuf },
    #[error("{path}: cannot create the plot folder, since {file} is a file; pass --plot a folder you can write to")]
    FileOnTheWay { path: PathBuf, file: PathBuf },
    #[error(
        "{path}: cannot create the plot folder ({source}); pass --plot a folder you can write to"
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: cannot write plots here ({source}); {}",
        if crate::model::is_job_failure(source) {
            "free some space or pass --plot another folder"
        } else {
            "pass --plot a folder you can write to"
        }
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: drawing the chart failed ({reason}); this is a bug, please report it")]
    Draw { path: PathBuf, reason: String },
    #[error(
        "the built-in chart font is not a valid TrueType font; this is a bug, please report it"
    )]
    Font,
}

impl PlotError {
    /// True when the folder given, not the program or the machine, is at
    /// fault: a full disk is the job failing, not a bad `--plot`.
    pub fn is_bad_path(&self) -> bool {
        match self {
            Self::IsAFile { .. } | Self::FileOnTheWay { .. } | Self::CreateDir { .. } => true,
            Self::Write { source, .. } => !crate::model::is_job_failure(source),
            Self::Draw { .. } | Self::Font => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, PlotError>;

/// Creates `dir` if needed and checks a file can be written in it, so a bad
/// `--plot` fails before a long evaluation rather than after.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    // A file where the folder (or a folder on the way) should be: say so,
    // rather than "File exists" or "Not a directory".
    if let Some(file) = dir
        .ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir())
    {
        let path = dir.to_path_buf();
        return Err(if file == dir {
            PlotError::IsAFile { path }
        } else {
            PlotError::FileOnTheWay {
                path,
                file: file.to_path_buf(),
            }
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let probe = dir.join(".digits-plot-probe");
    std::fs::write(&probe, b"").map_err(|source| PlotError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The confusion matrix `m.confusion[truth][predicted]` as a heat map with
/// the count in every cell, shaded by the share of the row.
pub fn confusion(dir: &Path, m: &Metrics, title: &str) -> Result<Vec<PathBuf>> {
    render(dir, "confusion", (720, 680), &Chart::Confusion { m, title })
}

/// Accuracy against SNR: a line with points, and the clean accuracy as a
/// dashed line. `noise` names the noise kind for the axis.
pub fn snr_curve(
    dir: &Path,
    points: &[SnrPoint],
    clean: f64,
    noise: &str,
    title: &str,
) -> Result<Vec<PathBuf>> {
    let chart = Chart::Snr {
        points,
        clean,
        noise,
        title,
    };
    render(dir, "snr", (760, 520), &chart)
}

/// Held-out accuracy of each leave-one-speaker-out fold, as bars.
pub fn speakers(dir: &Path, folds: &[Fold], title: &str) -> Result<Vec<PathBuf>> {
    render(
        dir,
        "speakers",
        (760, 520),
        &Chart::Speakers { folds, title },
    )
}

/// What to draw.
enum Chart<'a> {
    Confusion {
        m: &'a Metrics,
        title: &'a str,
    },
    Snr {
        points: &'a [SnrPoint],
        clean: f64,
        noise: &'a str,
        title: &'a str,
    },
    Speakers {
        folds: &'a [Fold],
        title: &'a str,
    },
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Draws `chart` on either backend (not yet presented: for the PNG,
/// presenting is writing the file).
fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    match *chart {
        Chart::Confusion { m, title } => heat_map(area, m, title)?,
        Chart::Snr {
            points,
            clean,
            noise,
            title,
        } => snr(area, points, clean, noise, title)?,
        Chart::Speakers { folds, title } => bars(area, folds, title)?,
    }
    Ok(())
}

/// Draws one chart both ways: `{stem}.png` and `{stem}.svg` in `dir`. Each
/// is written to `{stem}.partial.png`/`.svg` beside it, then renamed, so a
/// failed write (a full disk) leaves neither a truncated chart nor the
/// temporary file behind.
fn render(dir: &Path, stem: &str, size: (u32, u32), chart: &Chart) -> Result<Vec<PathBuf>> {
    register_font()?;
    let mut written = Vec::new();
    for ext in ["png", "svg"] {
        let path = dir.join(format!("{stem}.{ext}"));
        // The image crate picks the PNG encoder by the extension.
        let tmp = dir.join(format!("{stem}.partial.{ext}"));
        let done = match ext {
            "png" => write_png(&tmp, &path, size, chart),
            _ => write_svg(&tmp, &path, size, chart),
        }
        .and_then(|()| {
            std::fs::rename(&tmp, &path).map_err(|source| PlotError::Write {
                path: path.clone(),
                source,
            })
        });
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        written.push(path);
    }
    Ok(written)
}

/// Draws `chart` as a PNG into `tmp`; errors name `path`, the file meant.
/// The pixels are drawn and encoded in memory and written with `std::fs`,
/// so a failed write is an [`std::io::Error`] like any other (plotters' own
/// PNG writer reports one only as text).
fn write_png(tmp: &Path, path: &Path, (w, h): (u32, u32), chart: &Chart) -> Result<()> {
    let draw_error = |reason: String| PlotError::Draw {
        path: path.to_path_buf(),
        reason,
    };
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        let drawn = draw(&area, chart).and_then(|()| Ok(area.present()?));
        drawn.map_err(|e| draw_error(e.to_string()))?;
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .map_err(|e| draw_error(e.to_string()))?;
    std::fs::write(tmp, bytes).map_err(|source| PlotError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Draws `chart` as an SVG into `tmp`; errors name `path`, the file meant.
fn write_svg(tmp: &Path, path: &Path, size: (u32, u32), chart: &Chart) -> Result<()> {
    let mut text = String::new();
    {
        let area = SVGBackend::with_string(&mut text, size).into_drawing_area();
        let drawn = draw(&area, chart).and_then(|()| Ok(area.present()?));
        drawn.map_err(|e| PlotError::Draw {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    std::fs::write(tmp, text).map_err(|source| PlotError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// White (0) to dark blue (1).
fn shade(share: f64) -> RGBColor {
    let s = share.clamp(0.0, 1.0);
    let mix = |lo: f64, hi: f64| (lo + (hi - lo) * s).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

fn heat_map<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: &Metrics,
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = m.confusion.len() as i32;
    area.fill(&WHITE)?;
    // Segmented 0..=n-1: one cell per digit, labels at the cell centres.
    // Rows go top to bottom, so row t is drawn at y = n-1-t.
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(64)
        .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())?;
    let label = |v: &SegmentValue<i32>, flip: bool| match v {
        SegmentValue::CenterOf(v) => format!("{}", if flip { n - 1 - v } else { *v }),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(n as usize)
        .y_labels(n as usize)
        .x_label_formatter(&|v| label(v, false))
        .y_label_formatter(&|v| label(v, true))
        .x_desc("predicted digit")
        .y_desc("spoken digit")
        .label_style(("sans-serif", 17))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    for (t, row) in m.confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        for (p, &count) in row.iter().enumerate() {
            let share = count as f64 / total.max(1) as f64;
            let (x, y) = (p as i32, n - 1 - t as i32);
            chart.draw_series(std::iter::once(Rectangle::new(
                [
                    (SegmentValue::Exact(x), SegmentValue::Exact(y)),
                    (SegmentValue::Exact(x + 1), SegmentValue::Exact(y + 1)),
                ],
                shade(share).filled(),
            )))?;
            let colour = if share > 0.5 { WHITE } else { BLACK };
            let style = ("sans-serif", 16)
                .into_font()
                .color(&colour)
                .pos(Pos::new(HPos::Center, VPos::Center));
            chart.draw_series(std::iter::once(Text::new(
                count.to_string(),
                (SegmentValue::CenterOf(x), SegmentValue::CenterOf(y)),
                style,
            )))?;
        }
    }
    Ok(())
}

fn snr<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[SnrPoint],
    clean: f64,
    noise: &str,
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut pts: Vec<(f64, f64)> = points.iter().map(|p| (p.db, 100.0 * p.accuracy)).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lo = pts.first().map_or(0.0, |p| p.0);
    let hi = pts.last().map_or(30.0, |p| p.0);
    let pad = ((hi - lo) * 0.06).max(1.0);
    area.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(
            TickedAxis {
                inner: ((lo - pad)..(hi + pad)).into(),
                ticks: snr_ticks(&pts),
            },
            0f64..102f64,
        )?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_label_formatter(&|v| db_label(*v))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc(format!("SNR (dB), {noise} noise"))
        .y_desc("accuracy (%)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    let red = RGBColor(200, 40, 40);
    let clean_pct = 100.0 * clean;
    chart
        .draw_series(DashedLineSeries::new(
            vec![(lo - pad, clean_pct), (hi + pad, clean_pct)],
            8,
            6,
            red.stroke_width(2),
        ))?
        .label(format!("clean: {clean_pct:.1}%"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    let blue = RGBColor(31, 90, 180);
    chart
        .draw_series(LineSeries::new(pts.clone(), blue.stroke_width(2)))?
        .label(format!("with {noise} noise"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 5, blue.filled())))?;
    // Each value just below its point (above it near the bottom edge).
    let below = ("sans-serif", 15)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let above = below.pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(pts.iter().map(|&(x, y)| {
        let text = format!("{y:.1}%");
        if y >= 12.0 {
            Text::new(text, (x, y - 3.5), below.clone())
        } else {
            Text::new(text, (x, y + 3.5), above.clone())
        }
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;
    Ok(())
}

/// An `f64` axis with the ticks given (plotters' `with_key_points` does the
/// same, but its `f64` axis then takes no label formatter).
struct TickedAxis {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    /// The ticks as the bold (labelled) points, no light ones.
    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// The x-axis ticks of the SNR chart: the levels measured (sorted), every
/// k-th when there are more than 12, so each label is a level and none
/// repeats (plotters' own ticks on 9..11 dB read `9 9 9 10 10 …`).
fn snr_ticks(pts: &[(f64, f64)]) -> Vec<f64> {
    let mut levels: Vec<f64> = pts.iter().map(|p| p.0).collect();
    levels.dedup_by(|a, b| db_label(*a) == db_label(*b));
    let step = levels.len().div_ceil(12).max(1);
    levels.into_iter().step_by(step).collect()
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    folds: &[Fold],
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let n = folds.len().max(1) as i32;
    area.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..105f64)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_labels(folds.len())
        .x_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => folds
                .get(*i as usize)
                .map_or_else(String::new, |f| f.speaker.clone()),
            _ => String::new(),
        })
        .x_desc("held-out speaker")
        .y_desc("accuracy (%)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    let blue = RGBColor(31, 90, 180);
    chart.draw_series(folds.iter().enumerate().map(|(i, f)| {
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i as i32), 0.0),
                (SegmentValue::Exact(i as i32 + 1), 100.0 * f.accuracy),
            ],
            blue.filled(),
        );
        bar.set_margin(0, 0, 12, 12);
        bar
    }))?;
    let style = ("sans-serif", 16)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(folds.iter().enumerate().map(|(i, f)| {
        Text::new(
            format!("{:.1}%", 100.0 * f.accuracy),
            (SegmentValue::CenterOf(i as i32), 100.0 * f.accuracy + 1.0),
            style.clone(),
        )
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_writes_png_and_svg() {
        let dir = std::env::temp_dir().join(format!("digits-plot-test-{}", std::process::id()));
        prepare_dir(&dir).unwrap();
        let m = Metrics::new(&[0, 1, 2, 3, 3], &[0, 1, 2, 3, 5]);
        let paths = confusion(&dir, &m, "test").unwrap();
        let png = std::fs::read(&paths[0]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(&paths[1]).unwrap();
        assert!(svg.contains("<svg") && svg.contains("predicted digit"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_is_not_a_plot_folder() {
        let file = std::env::temp_dir().join(format!("digits-plot-file-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        let err = prepare_dir(&file.join("plots")).unwrap_err();
        assert!(err.is_bad_path());
        assert!(!err.to_string().contains('\n'));
        std::fs::remove_file(&file).unwrap();
    }
}
