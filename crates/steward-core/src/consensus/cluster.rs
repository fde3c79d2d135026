//! k-means as Polis runs it: deterministic start at the first k distinct points in data order,
//! optional weights, empty clusters dropped, stop when no centre moves 0.01; and the silhouette
//! used to choose the number of groups.

/// A cluster: its id (from the start order), member indices into the data, and centre.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cluster {
    pub id: usize,
    pub members: Vec<usize>,
    pub center: [f64; 2],
}

fn dist2(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    dist2(a, b).sqrt()
}

pub(crate) fn kmeans(
    points: &[[f64; 2]],
    weights: Option<&[f64]>,
    k: usize,
    max_iters: usize,
) -> Vec<Cluster> {
    let mut centers: Vec<(usize, [f64; 2])> = Vec::new();
    for p in points {
        if centers.len() == k {
            break;
        }
        if !centers.iter().any(|(_, c)| c == p) {
            centers.push((centers.len(), *p));
        }
    }
    let mut iter = max_iters;
    loop {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); centers.len()];
        for (i, p) in points.iter().enumerate() {
            let mut best = 0;
            let mut best_d = f64::INFINITY;
            for (c, (_, center)) in centers.iter().enumerate() {
                // Squared: the same nearest centre without a square root per pair.
                let d = dist2(*p, *center);
                if d < best_d {
                    best_d = d;
                    best = c;
                }
            }
            members[best].push(i);
        }
        let next: Vec<Cluster> = centers
            .iter()
            .zip(members)
            .filter(|(_, m)| !m.is_empty())
            .map(|((id, _), m)| {
                let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
                for &i in &m {
                    let w = weights.map_or(1.0, |w| w[i]);
                    sx += w * points[i][0];
                    sy += w * points[i][1];
                    sw += w;
                }
                Cluster {
                    id: *id,
                    members: m,
                    center: [sx / sw, sy / sw],
                }
            })
            .collect();
        let same = next.len() == centers.len()
            && next
                .iter()
                .zip(&centers)
                .all(|(n, (_, c))| dist(n.center, *c) < 0.01);
        if iter == 0 || same {
            return next;
        }
        centers = next.iter().map(|c| (c.id, c.center)).collect();
        iter -= 1;
    }
}

/// Mean silhouette over the clustered points (unweighted, as Polis computes it over base
/// clusters); a point alone in its cluster scores 0.
pub(crate) fn silhouette(points: &[[f64; 2]], clusters: &[Cluster]) -> f64 {
    let mut total = 0.0;
    let mut n = 0usize;
    for (ci, c) in clusters.iter().enumerate() {
        for &i in &c.members {
            n += 1;
            if c.members.len() == 1 {
                continue;
            }
            let mean_to = |m: &[usize]| {
                let others: Vec<f64> = m
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| dist(points[i], points[j]))
                    .collect();
                others.iter().sum::<f64>() / others.len() as f64
            };
            let a = mean_to(&c.members);
            let b = clusters
                .iter()
                .enumerate()
                .filter(|(cj, _)| *cj != ci)
                .map(|(_, o)| mean_to(&o.members))
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 {
                total += (b - a) / m;
            }
        }
    }
    if n == 0 { 0.0 } else { total / n as f64 }
}
