//! Writes a trained MLP as an ONNX graph (opset 13) with tract-onnx's protobuf types:
//! fp32 (`Gemm` per layer), or int8 with symmetric per-output-channel weights
//! (`DequantizeLinear(axis = 1)` feeding each `Gemm`; biases stay f32). Both run
//! unchanged in tract-onnx and onnxruntime. Input `features` is `[batch, width]`;
//! outputs `a`, `b` (and the ceiling `c`, a sigmoid, in price-response form 2) are
//! `[batch, 1]`.

use prost::Message;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::Dimension,
    tensor_shape_proto::dimension::Value as Dim, type_proto,
};

use super::mlp::{Dense, Mlp};
use edgeprice_core::model::{INPUT_NAME, OUTPUT_A, OUTPUT_B, OUTPUT_C};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Fp32,
    Int8,
}

fn f32_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Float as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

fn i8_tensor(name: &str, dims: &[usize], values: &[i8]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: DataType::Int8 as i32,
        raw_data: values.iter().map(|v| *v as u8).collect(),
        ..Default::default()
    }
}

fn node(op: &str, name: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn value_info(name: &str, second: i64) -> ValueInfoProto {
    let dims = [Dim::DimParam("batch".into()), Dim::DimValue(second)];
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto {
                    dim: dims.into_iter().map(|v| Dimension { value: Some(v), ..Default::default() }).collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Symmetric per-output-channel int8: `scale[j] = max_i |w[i][j]| / 127`, `q = round(w / scale)`.
pub fn quantize(layer: &Dense) -> (Vec<i8>, Vec<f32>) {
    let scales: Vec<f32> = (0..layer.outputs)
        .map(|j| {
            let m = (0..layer.inputs).map(|i| layer.weight[i * layer.outputs + j].abs()).fold(0.0f32, f32::max);
            if m > 0.0 { m / 127.0 } else { 1.0 }
        })
        .collect();
    let q = layer
        .weight
        .iter()
        .enumerate()
        .map(|(k, w)| (w / scales[k % layer.outputs]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (q, scales)
}

/// Adds one dense layer reading `input` and writing `output`.
fn dense(graph: &mut GraphProto, prefix: &str, layer: &Dense, input: &str, output: &str, precision: Precision) {
    let (w, b) = (format!("{prefix}.weight"), format!("{prefix}.bias"));
    let dims = [layer.inputs, layer.outputs];
    match precision {
        Precision::Fp32 => graph.initializer.push(f32_tensor(&w, &dims, &layer.weight)),
        Precision::Int8 => {
            let (q, scales) = quantize(layer);
            let (wq, ws, wz) = (format!("{w}.q"), format!("{w}.scale"), format!("{w}.zero_point"));
            graph.initializer.push(i8_tensor(&wq, &dims, &q));
            graph.initializer.push(f32_tensor(&ws, &[layer.outputs], &scales));
            graph.initializer.push(i8_tensor(&wz, &[layer.outputs], &vec![0; layer.outputs]));
            let axis =
                AttributeProto { name: "axis".into(), r#type: AttributeType::Int as i32, i: 1, ..Default::default() };
            graph.node.push(node(
                "DequantizeLinear",
                &format!("{prefix}.dequantize"),
                &[&wq, &ws, &wz],
                &w,
                vec![axis],
            ));
        }
    }
    graph.initializer.push(f32_tensor(&b, &[layer.outputs], &layer.bias));
    graph.node.push(node("Gemm", &format!("{prefix}.gemm"), &[input, &w, &b], output, vec![]));
}

/// Serializes the MLP as an ONNX model. `doc` goes in the model's doc string.
pub fn export(mlp: &Mlp, precision: Precision, doc: &str) -> Vec<u8> {
    let width = mlp.hidden.first().map_or(0, |l| l.inputs);
    let mut graph = GraphProto { name: "edgeprice_behaviour".into(), ..Default::default() };
    graph.input.push(value_info(INPUT_NAME, width as i64));
    let mut current = INPUT_NAME.to_string();
    for (i, layer) in mlp.hidden.iter().enumerate() {
        let pre = format!("hidden{i}.pre");
        dense(&mut graph, &format!("hidden{i}"), layer, &current, &pre, precision);
        current = format!("hidden{i}.out");
        graph.node.push(node("Relu", &format!("hidden{i}.relu"), &[&pre], &current, vec![]));
    }
    dense(&mut graph, "head_a", &mlp.head_a, &current, OUTPUT_A, precision);
    dense(&mut graph, "head_b", &mlp.head_b, &current, "head_b.pre", precision);
    graph.node.push(node("Softplus", "head_b.softplus", &["head_b.pre"], OUTPUT_B, vec![]));
    graph.output.push(value_info(OUTPUT_A, 1));
    graph.output.push(value_info(OUTPUT_B, 1));
    if let Some(head_c) = &mlp.head_c {
        dense(&mut graph, "head_c", head_c, &current, "head_c.pre", precision);
        graph.node.push(node("Sigmoid", "head_c.sigmoid", &["head_c.pre"], OUTPUT_C, vec![]));
        graph.output.push(value_info(OUTPUT_C, 1));
    }
    let model = ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "edgeprice".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc.into(),
        graph: Some(graph),
        ..Default::default()
    };
    model.encode_to_vec()
}
