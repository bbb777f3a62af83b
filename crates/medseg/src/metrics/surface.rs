//! Contour distances between a predicted and a true binary mask, in pixels: the 95th-percentile
//! Hausdorff distance and the mean contour distance, as MONAI computes them
//! (`compute_hausdorff_distance(percentile=95)` and
//! `compute_average_surface_distance(symmetric=True)`, unit spacing, Euclidean).
//!
//! - **Contour** of a mask: its pixels with a 4-neighbour outside the mask (or on the image
//!   border), i.e. `mask XOR erode(mask)` with the 3x3 cross and zero padding (SciPy's
//!   `binary_erosion`, which MONAI uses).
//! - **Directed distances** `d(A→B)`: for every contour pixel of A, the Euclidean distance to
//!   the nearest contour pixel of B (an exact distance transform of B's contour).
//! - **HD95** = `max(q95(d(P→T)), q95(d(T→P)))`, `q95` the linear-interpolation quantile
//!   (`torch.quantile`, NumPy's default).
//! - **Mean contour distance** = the mean of all distances of both directions together
//!   (MONAI's symmetric average surface distance; SCR's "mean contour distance").
//!
//! Both are **undefined** (`None`) when either mask is empty: MONAI returns NaN (both empty)
//! or infinity (one empty) there; reports leave such images out of the means and say how many
//! were left out.

/// Contour distances of one image and class; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContourDistances {
    /// 95th-percentile symmetric Hausdorff distance (pixels).
    pub hd95: f64,
    /// Mean symmetric contour distance (pixels).
    pub mean: f64,
}

/// The contour of a `width x height` row-major mask (see the module docs).
pub fn contour(mask: &[bool], width: usize, height: usize) -> Vec<bool> {
    assert_eq!(mask.len(), width * height, "contour: mask size");
    let at = |x: isize, y: isize| {
        x >= 0
            && y >= 0
            && (x as usize) < width
            && (y as usize) < height
            && mask[y as usize * width + x as usize]
    };
    let mut out = vec![false; mask.len()];
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if !mask[i] {
                continue;
            }
            let (xi, yi) = (x as isize, y as isize);
            let interior = at(xi - 1, yi) && at(xi + 1, yi) && at(xi, yi - 1) && at(xi, yi + 1);
            out[i] = !interior;
        }
    }
    out
}

/// Squared Euclidean distance of every pixel to the nearest `true` pixel of `set` (exact;
/// Felzenszwalb & Huttenlocher's lower envelope, one pass per axis). `f64::INFINITY` everywhere
/// if `set` is empty.
pub fn squared_distance_transform(set: &[bool], width: usize, height: usize) -> Vec<f64> {
    assert_eq!(set.len(), width * height, "distance transform: size");
    let inf = f64::INFINITY;
    let mut grid: Vec<f64> = set.iter().map(|&s| if s { 0.0 } else { inf }).collect();
    let mut line = Vec::new();
    // Columns, then rows.
    for x in 0..width {
        line.clear();
        line.extend((0..height).map(|y| grid[y * width + x]));
        let d = envelope_1d(&line);
        for (y, v) in d.into_iter().enumerate() {
            grid[y * width + x] = v;
        }
    }
    for y in 0..height {
        let row = &mut grid[y * width..(y + 1) * width];
        let d = envelope_1d(row);
        row.copy_from_slice(&d);
    }
    grid
}

/// One-dimensional squared distance transform of sampled function `f` (Felzenszwalb &
/// Huttenlocher 2012): `d[p] = min_q (p - q)^2 + f[q]`.
fn envelope_1d(f: &[f64]) -> Vec<f64> {
    let n = f.len();
    let mut d = vec![f64::INFINITY; n];
    let finite: Vec<usize> = (0..n).filter(|&q| f[q].is_finite()).collect();
    if finite.is_empty() {
        return d;
    }
    let mut v: Vec<usize> = Vec::with_capacity(finite.len()); // parabola vertices
    let mut z: Vec<f64> = Vec::with_capacity(finite.len() + 1); // boundaries
    let inter = |q: usize, p: usize| {
        let (q2, p2) = ((q * q) as f64, (p * p) as f64);
        ((f[q] + q2) - (f[p] + p2)) / (2.0 * (q as f64 - p as f64))
    };
    for &q in &finite {
        while let Some(&p) = v.last() {
            let s = inter(q, p);
            if s <= *z.last().expect("z has one entry per vertex") {
                v.pop();
                z.pop();
            } else {
                v.push(q);
                z.push(s);
                break;
            }
        }
        if v.is_empty() {
            v.push(q);
            z.push(f64::NEG_INFINITY);
        }
    }
    let mut k = 0;
    for (p, out) in d.iter_mut().enumerate() {
        while k + 1 < v.len() && z[k + 1] < p as f64 {
            k += 1;
        }
        let dq = p as f64 - v[k] as f64;
        *out = dq * dq + f[v[k]];
    }
    d
}

/// Distances from every contour pixel of `from` to the nearest contour pixel of `to`.
fn directed(from: &[bool], to_sq_dt: &[f64]) -> Vec<f64> {
    from.iter()
        .zip(to_sq_dt)
        .filter(|(f, _)| **f)
        .map(|(_, d)| d.sqrt())
        .collect()
}

/// The `q`-quantile (`0..=1`) with linear interpolation (NumPy's default, `torch.quantile`).
/// `None` for an empty slice.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (v[hi] - v[lo]) * (pos - lo as f64))
}

/// HD95 and mean contour distance between `pred` and `truth` (`width x height`, row-major);
/// `None` when either mask is empty. See the module docs.
pub fn contour_distances(
    pred: &[bool],
    truth: &[bool],
    width: usize,
    height: usize,
) -> Option<ContourDistances> {
    if !pred.iter().any(|&p| p) || !truth.iter().any(|&t| t) {
        return None;
    }
    let (cp, ct) = (contour(pred, width, height), contour(truth, width, height));
    let to_truth = directed(&cp, &squared_distance_transform(&ct, width, height));
    let to_pred = directed(&ct, &squared_distance_transform(&cp, width, height));
    let hd95 = quantile(&to_truth, 0.95)?.max(quantile(&to_pred, 0.95)?);
    let n = (to_truth.len() + to_pred.len()) as f64;
    let mean = (to_truth.iter().sum::<f64>() + to_pred.iter().sum::<f64>()) / n;
    Some(ContourDistances { hd95, mean })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(w: usize, h: usize, x0: usize, y0: usize, x1: usize, y1: usize) -> Vec<bool> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                x >= x0 && x < x1 && y >= y0 && y < y1
            })
            .collect()
    }

    #[test]
    fn contour_of_a_square_is_its_ring() {
        let m = rect(6, 6, 1, 1, 5, 5); // 4x4 square
        let c = contour(&m, 6, 6);
        assert_eq!(c.iter().filter(|&&b| b).count(), 12);
        assert!(!c[2 * 6 + 2] && !c[3 * 6 + 3]); // interior
        // A mask on the image border keeps its border pixels as contour.
        let full = vec![true; 9];
        assert_eq!(contour(&full, 3, 3).iter().filter(|&&b| b).count(), 8);
    }

    #[test]
    fn distance_transform_matches_brute_force() {
        let (w, h) = (13, 9);
        let set: Vec<bool> = (0..w * h).map(|i| (i * 7919) % 23 == 0).collect();
        let dt = squared_distance_transform(&set, w, h);
        for (i, &got) in dt.iter().enumerate() {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            let brute = (0..w * h)
                .filter(|&j| set[j])
                .map(|j| {
                    let (a, b) = ((j % w) as f64, (j / w) as f64);
                    (x - a).powi(2) + (y - b).powi(2)
                })
                .fold(f64::INFINITY, f64::min);
            assert_eq!(got, brute, "pixel {i}");
        }
        assert!(
            squared_distance_transform(&[false; 4], 2, 2)
                .iter()
                .all(|d| d.is_infinite())
        );
    }

    #[test]
    fn shifted_square_and_empty_masks() {
        let a = rect(12, 12, 2, 2, 7, 7);
        let same = contour_distances(&a, &a, 12, 12).unwrap();
        assert_eq!((same.hd95, same.mean), (0.0, 0.0));
        // Shifted right by 2: every contour pixel is at most 2 away.
        let b = rect(12, 12, 4, 2, 9, 7);
        let d = contour_distances(&a, &b, 12, 12).unwrap();
        assert!(d.hd95 > 0.0 && d.hd95 <= 2.0, "{d:?}");
        assert!(d.mean > 0.0 && d.mean < d.hd95, "{d:?}");
        assert!(contour_distances(&a, &[false; 144], 12, 12).is_none());
        assert!(contour_distances(&[false; 144], &[false; 144], 12, 12).is_none());
    }

    #[test]
    fn quantile_interpolates_linearly() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0, 4.0], 0.5), Some(2.5));
        assert_eq!(quantile(&[5.0], 0.95), Some(5.0));
        let v: Vec<f64> = (0..=20).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.95), Some(19.0));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
