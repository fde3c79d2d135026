//! Dynamic int8 quantization of the BERT encoder's weights, computed from the pinned
//! `model.safetensors` when the embedder loads.
//!
//! The int8 graph (`assets/all-minilm-l6-v2-int8.onnx`, `scripts/build-onnx-embedder.py --int8`)
//! declares every Linear weight as an int8 tensor `NAME.q` (in, out) with one f32 scale per
//! output column `NAME.scale`, and leaves their data to us: [`int8_weights`] computes them here
//! and the session receives them by name. So the only model file stays the pinned safetensors
//! (its manifest check runs before every load), nothing derived is written to disk, and the
//! quantization is this code's, the same on every machine. The scheme is ONNX Runtime's
//! `quantize_dynamic` with `per_channel=True` for int8 weights: symmetric, zero point 0,
//! scale = max |w| of the column / 127, values rounded half to even and clamped to ±127
//! (checked against it: identical vectors on 200 proposal texts).

use std::collections::HashMap;

/// One tensor the int8 graph expects: its name and either int8 data or f32 scales.
#[derive(Debug)]
pub(crate) struct Computed {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: ComputedData,
}

#[derive(Debug)]
pub(crate) enum ComputedData {
    I8(Vec<i8>),
    F32(Vec<f32>),
}

/// The F32 tensors of a safetensors file, by name: (shape, values).
struct SafeTensors<'a> {
    bytes: &'a [u8],
    base: usize,
    index: HashMap<String, (Vec<usize>, usize, usize)>,
}

impl<'a> SafeTensors<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let n = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as usize)
            .ok_or("shorter than the 8-byte header length")?;
        let header = bytes
            .get(8..8usize.saturating_add(n))
            .ok_or("header length past the end of the file")?;
        let header: serde_json::Value =
            serde_json::from_slice(header).map_err(|e| format!("header: {e}"))?;
        let obj = header.as_object().ok_or("header is not a JSON object")?;
        let mut index = HashMap::new();
        for (name, meta) in obj {
            if name == "__metadata__" {
                continue;
            }
            if meta.get("dtype").and_then(|d| d.as_str()) != Some("F32") {
                continue;
            }
            let shape: Option<Vec<usize>> = meta
                .get("shape")
                .and_then(|s| s.as_array())
                .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect());
            let offsets: Option<Vec<usize>> = meta
                .get("data_offsets")
                .and_then(|s| s.as_array())
                .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect());
            match (shape, offsets.as_deref()) {
                (Some(shape), Some(&[start, end])) => {
                    index.insert(name.clone(), (shape, start, end));
                }
                _ => return Err(format!("{name}: no shape or data_offsets")),
            }
        }
        Ok(SafeTensors {
            bytes,
            base: 8 + n,
            index,
        })
    }

    /// A 2-D F32 tensor (rows, cols), row-major.
    fn matrix(&self, name: &str) -> Result<(usize, usize, Vec<f32>), String> {
        let (shape, start, end) = self
            .index
            .get(name)
            .ok_or_else(|| format!("no F32 tensor {name}"))?;
        let &[rows, cols] = shape.as_slice() else {
            return Err(format!("{name}: shape {shape:?}, expected 2 dimensions"));
        };
        let raw = self
            .bytes
            .get(self.base + start..self.base + end)
            .filter(|r| r.len() == rows * cols * 4)
            .ok_or_else(|| format!("{name}: data range does not fit its shape"))?;
        let values = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok((rows, cols, values))
    }
}

/// Quantizes the transpose of torch Linear weights stacked along the output axis: each of
/// `weights` is (out_j, in), the result is int8 (in, sum out_j) and one scale per output column.
fn quantize_linear(weights: &[(usize, usize, Vec<f32>)]) -> Result<(Vec<i8>, Vec<f32>), String> {
    let inputs = weights.first().map_or(0, |w| w.1);
    if weights.iter().any(|w| w.1 != inputs) {
        return Err("stacked weights differ in input size".into());
    }
    let outputs: usize = weights.iter().map(|w| w.0).sum();
    let mut q = vec![0i8; inputs * outputs];
    let mut scales = Vec::with_capacity(outputs);
    let mut col = 0;
    for (rows, cols, w) in weights {
        for r in 0..*rows {
            let row = &w[r * cols..(r + 1) * cols];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            // ONNX Runtime's rule: the range always holds 0; an all-zero column gets scale 1.
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            for (k, v) in row.iter().enumerate() {
                q[k * outputs + col] = (v / scale).round_ties_even().clamp(-127.0, 127.0) as i8;
            }
            scales.push(scale);
            col += 1;
        }
    }
    Ok((q, scales))
}

/// Every int8 weight and scale the int8 graph of a BERT encoder with `layers` layers expects,
/// computed from the bytes of its safetensors file (tensor names without a `bert.` prefix, as
/// all-MiniLM-L6-v2 has them).
pub(crate) fn int8_weights(safetensors: &[u8], layers: usize) -> Result<Vec<Computed>, String> {
    let st = SafeTensors::parse(safetensors)?;
    let mut out = Vec::with_capacity(layers * 8);
    let mut push = |name: String, parts: Vec<(usize, usize, Vec<f32>)>| {
        let inputs = parts.first().map_or(0, |w| w.1);
        let (q, scales) = quantize_linear(&parts)?;
        out.push(Computed {
            name: format!("{name}.q"),
            shape: vec![inputs, scales.len()],
            data: ComputedData::I8(q),
        });
        out.push(Computed {
            name: format!("{name}.scale"),
            shape: vec![scales.len()],
            data: ComputedData::F32(scales),
        });
        Ok::<(), String>(())
    };
    for i in 0..layers {
        let lp = format!("encoder.layer.{i}.");
        let qkv = ["query", "key", "value"]
            .iter()
            .map(|k| st.matrix(&format!("{lp}attention.self.{k}.weight")))
            .collect::<Result<Vec<_>, _>>()?;
        push(format!("l{i}_qkv"), qkv)?;
        for name in [
            "attention.output.dense.weight",
            "intermediate.dense.weight",
            "output.dense.weight",
        ] {
            let name = format!("{lp}{name}");
            let w = st.matrix(&name)?;
            push(name, vec![w])?;
        }
    }
    Ok(out)
}

/// The computed tensors as ONNX Runtime values, shareable by several sessions.
pub(crate) fn values(
    computed: Vec<Computed>,
) -> crate::Result<Vec<(String, std::sync::Arc<ort::value::DynValue>)>> {
    use ort::value::Tensor;
    computed
        .into_iter()
        .map(|c| {
            let value = match c.data {
                ComputedData::I8(v) => Tensor::from_array((c.shape, v)).map(|t| t.into_dyn()),
                ComputedData::F32(v) => Tensor::from_array((c.shape, v)).map(|t| t.into_dyn()),
            }
            .map_err(|e| crate::Error::engine("onnxruntime", format!("{}: {e}", c.name)))?;
            Ok((c.name, std::sync::Arc::new(value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizes_per_output_column_symmetrically() {
        // Two outputs over three inputs (torch layout: out x in).
        let w = vec![(2, 3, vec![1.0, -0.5, 0.25, 0.0, 0.0, 0.0])];
        let (q, s) = quantize_linear(&w).expect("quantize");
        assert_eq!(s, vec![1.0 / 127.0, 1.0]);
        // Transposed: (in, out), column 0 holds output 0.
        assert_eq!(q, vec![127, 0, -64, 0, 32, 0]);
    }

    #[test]
    fn rounds_half_to_even_like_numpy() {
        // max |w| = 127 makes the scale exactly 1, so the halves stay halves.
        let w = vec![(1, 5, vec![127.0, 0.5, 1.5, 2.5, -2.5])];
        let (q, s) = quantize_linear(&w).expect("quantize");
        assert_eq!(s, vec![1.0]);
        assert_eq!(q, vec![127, 0, 2, 2, -2]);
    }

    #[test]
    fn rejects_a_header_that_lies() {
        let mut bytes = 1000u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        assert!(SafeTensors::parse(&bytes).is_err());
        let header = br#"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}}"#;
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 8]);
        let st = SafeTensors::parse(&bytes).expect("parse");
        let err = st.matrix("w").expect_err("a range that does not fit");
        assert!(err.contains("does not fit"), "{err}");
        let err = st.matrix("nope").expect_err("no such tensor");
        assert!(err.contains("no F32 tensor nope"), "{err}");
    }
}
