package onnx

import (
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the ONNX protobuf schema (onnx.proto) that the rewrite
// touches.
const (
	modelGraph       = 7
	graphNode        = 1
	graphInitializer = 5
	nodeInput        = 1
	nodeOutput       = 2
	nodeName         = 3
	nodeOpType       = 4
	tensorDims       = 1
	tensorDataType   = 2
	tensorFloatData  = 4
	tensorName       = 8
	onnxFloat        = 1
)

const preluZero = "presence_prelu_zero"

// RewritePRelu replaces every PRelu(x, s) node with the equivalent
// Relu(x) + s*Min(x, 0). ORT's PRelu kernel is slow and blocks its layout
// optimisations; the rewritten graph gives the same outputs (x + s*0 and
// 0 + s*x are exact) several times faster on the default embedding model.
// It returns the model unchanged, and false, when it has no PRelu.
func RewritePRelu(model []byte) ([]byte, bool, error) {
	fields, err := splitFields(model)
	if err != nil {
		return nil, false, err
	}
	changed := false
	var out []byte
	for _, f := range fields {
		if f.num == modelGraph && f.typ == protowire.BytesType {
			graph, ok, err := rewriteGraph(f.payload)
			if err != nil {
				return nil, false, err
			}
			if ok {
				changed = true
				out = protowire.AppendTag(out, modelGraph, protowire.BytesType)
				out = protowire.AppendBytes(out, graph)
				continue
			}
		}
		out = append(out, f.raw...)
	}
	if !changed {
		return model, false, nil
	}
	return out, true, nil
}

func rewriteGraph(graph []byte) ([]byte, bool, error) {
	fields, err := splitFields(graph)
	if err != nil {
		return nil, false, err
	}
	changed := false
	var out []byte
	for _, f := range fields {
		if f.num != graphNode || f.typ != protowire.BytesType {
			out = append(out, f.raw...)
			continue
		}
		node, err := parseNode(f.payload)
		if err != nil {
			return nil, false, err
		}
		if node.opType != "PRelu" || len(node.inputs) != 2 || len(node.outputs) != 1 {
			out = append(out, f.raw...)
			continue
		}
		changed = true
		x, s, y := node.inputs[0], node.inputs[1], node.outputs[0]
		for _, n := range []struct {
			op      string
			inputs  []string
			output  string
		}{
			{"Relu", []string{x}, y + "__pos"},
			{"Min", []string{x, preluZero}, y + "__min"},
			{"Mul", []string{s, y + "__min"}, y + "__neg"},
			{"Add", []string{y + "__pos", y + "__neg"}, y},
		} {
			out = protowire.AppendTag(out, graphNode, protowire.BytesType)
			out = protowire.AppendBytes(out, encodeNode(node.name+"__"+n.op, n.op, n.inputs, n.output))
		}
	}
	if !changed {
		return graph, false, nil
	}
	// A one-element zero initializer broadcasts against any shape.
	var zero []byte
	zero = protowire.AppendTag(zero, tensorDims, protowire.VarintType)
	zero = protowire.AppendVarint(zero, 1)
	zero = protowire.AppendTag(zero, tensorDataType, protowire.VarintType)
	zero = protowire.AppendVarint(zero, onnxFloat)
	zero = protowire.AppendTag(zero, tensorFloatData, protowire.BytesType)
	zero = protowire.AppendBytes(zero, []byte{0, 0, 0, 0})
	zero = protowire.AppendTag(zero, tensorName, protowire.BytesType)
	zero = protowire.AppendString(zero, preluZero)
	out = protowire.AppendTag(out, graphInitializer, protowire.BytesType)
	out = protowire.AppendBytes(out, zero)
	return out, true, nil
}

type field struct {
	num     protowire.Number
	typ     protowire.Type
	payload []byte // contents of a bytes field
	raw     []byte // the whole encoded field, tag included
}

var errMalformed = errors.New("onnx: malformed model protobuf")

func splitFields(b []byte) ([]field, error) {
	var fields []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errMalformed
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, errMalformed
		}
		f := field{num: num, typ: typ, raw: b[:n+m]}
		if typ == protowire.BytesType {
			v, k := protowire.ConsumeBytes(b[n:])
			if k < 0 {
				return nil, errMalformed
			}
			f.payload = v
		}
		fields = append(fields, f)
		b = b[n+m:]
	}
	return fields, nil
}

type node struct {
	name, opType    string
	inputs, outputs []string
}

func parseNode(b []byte) (node, error) {
	fields, err := splitFields(b)
	if err != nil {
		return node{}, err
	}
	var n node
	for _, f := range fields {
		if f.typ != protowire.BytesType {
			continue
		}
		switch f.num {
		case nodeInput:
			n.inputs = append(n.inputs, string(f.payload))
		case nodeOutput:
			n.outputs = append(n.outputs, string(f.payload))
		case nodeName:
			n.name = string(f.payload)
		case nodeOpType:
			n.opType = string(f.payload)
		}
	}
	return n, nil
}

func encodeNode(name, op string, inputs []string, output string) []byte {
	var b []byte
	for _, in := range inputs {
		b = protowire.AppendTag(b, nodeInput, protowire.BytesType)
		b = protowire.AppendString(b, in)
	}
	b = protowire.AppendTag(b, nodeOutput, protowire.BytesType)
	b = protowire.AppendString(b, output)
	b = protowire.AppendTag(b, nodeName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, nodeOpType, protowire.BytesType)
	b = protowire.AppendString(b, op)
	return b
}
