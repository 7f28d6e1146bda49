// cover-kit's graph recorder for tfjs-node's binding. `npm run native:build` includes this file into the binding's
// tfjs_binding.cc (after tfjs_backend.h), routes executeOp here while a recording is open, and exports the graph*
// functions below.
//
// While a recording is open, every op tfjs executes is added to a TF_Graph instead of being run. Its outputs are
// symbolic tensors: negative ids (tfjs-node never deletes a negative id) whose shapes come from TensorFlow's shape
// inference. Opening the recording names the runtime inputs (real tensors, by id, in order): they become
// placeholders. Every other real tensor a recorded op reads is captured by value, as a constant of the graph (tfjs
// tensors never change, and constant axes and shapes let shape inference and XLA see them). Closing the recording
// names the outputs; the graph becomes a function in the eager context, optionally marked for XLA compilation, that
// runs as one eager op.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/eager/c_api.h"

namespace cover_graph {

using tfnodejs::TFJSBackend;

struct Recording {
  TF_Graph *graph = nullptr;
  std::unordered_map<int32_t, TF_Output> symbolic;  // recorded ops' outputs, by their (negative) ids
  std::unordered_map<int32_t, TF_Output> real;      // placeholders of runtime inputs and constants of captures
  std::vector<TF_Output> placeholders;              // the runtime inputs, in order
  std::vector<std::vector<int64_t>> inputShapes;
  std::vector<TF_DataType> inputTypes;
  std::vector<std::vector<int64_t>> capturedShapes;
  int64_t capturedElements = 0;
  int32_t nextId = -2;
  int64_t nodes = 0;
};

struct Function {
  std::string name;
  std::vector<std::vector<int64_t>> inputShapes;
  std::vector<TF_DataType> inputTypes;
  int outputs;
};

static Recording *recording = nullptr;
static std::unordered_map<int32_t, Function> functions;
static int32_t nextFunctionId = 1;
static int64_t functionsMade = 0;

bool IsRecording() { return recording != nullptr; }

static napi_value Fail(napi_env env, const std::string &message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, nullptr, ("graph: " + message).c_str());
  return nullptr;
}

static bool NapiOk(napi_env env, napi_status status, const char *what) {
  if (status == napi_ok) return true;
  Fail(env, std::string("bad argument: ") + what);
  return false;
}

static bool TfOk(napi_env env, TF_Status *status, const std::string &what) {
  if (TF_GetCode(status) == TF_OK) return true;
  Fail(env, what + ": " + TF_Message(status));
  return false;
}

static bool ReadString(napi_env env, napi_value value, std::string *out) {
  size_t length = 0;
  if (!NapiOk(env, napi_get_value_string_utf8(env, value, nullptr, 0, &length), "string")) return false;
  std::vector<char> buffer(length + 1);
  if (!NapiOk(env, napi_get_value_string_utf8(env, value, buffer.data(), length + 1, &length), "string")) return false;
  out->assign(buffer.data(), length);
  return true;
}

// A JavaScript array read element by element with `read(element, &value)`.
template <typename T, typename Read>
static bool ReadList(napi_env env, napi_value array, std::vector<T> *out, Read read) {
  uint32_t length = 0;
  if (!NapiOk(env, napi_get_array_length(env, array, &length), "array")) return false;
  out->resize(length);
  for (uint32_t i = 0; i < length; i++) {
    napi_value element;
    if (!NapiOk(env, napi_get_element(env, array, i, &element), "array element")) return false;
    if (!read(element, &(*out)[i])) return false;
  }
  return true;
}

static bool ReadInt32List(napi_env env, napi_value array, std::vector<int32_t> *out) {
  return ReadList(env, array, out, [env](napi_value v, int32_t *x) { return NapiOk(env, napi_get_value_int32(env, v, x), "integer"); });
}

static bool ReadDoubleList(napi_env env, napi_value array, std::vector<double> *out) {
  return ReadList(env, array, out, [env](napi_value v, double *x) { return NapiOk(env, napi_get_value_double(env, v, x), "number"); });
}

static bool ReadBoolList(napi_env env, napi_value array, std::vector<unsigned char> *out) {
  return ReadList(env, array, out, [env](napi_value v, unsigned char *x) {
    bool b = false;
    if (!NapiOk(env, napi_get_value_bool(env, v, &b), "boolean")) return false;
    *x = b ? 1 : 0;
    return true;
  });
}

static bool IsArray(napi_env env, napi_value value) {
  bool result = false;
  napi_is_array(env, value, &result);
  return result;
}

static napi_value Property(napi_env env, napi_value object, const char *name) {
  napi_value value = nullptr;
  if (napi_get_named_property(env, object, name, &value) != napi_ok) return nullptr;
  return value;
}

// One tfjs op attribute ({name, type, value}, as tfjs-node's executeOp takes them) on a graph node. `listLength`
// receives the value of an integer attribute `N`, the length of a list input.
static bool SetAttr(napi_env env, TF_OperationDescription *desc, napi_value attr, int64_t *listLength) {
  std::string name;
  int32_t type = 0;
  napi_value nameValue = Property(env, attr, "name"), typeValue = Property(env, attr, "type");
  napi_value value = Property(env, attr, "value");
  if (!nameValue || !typeValue || !value || !ReadString(env, nameValue, &name)) return Fail(env, "op attribute without name/type/value"), false;
  if (!NapiOk(env, napi_get_value_int32(env, typeValue, &type), "attribute type")) return false;
  const char *n = name.c_str();
  const bool list = IsArray(env, value);
  switch (type) {
    case TF_ATTR_STRING: {
      std::string s;
      if (!ReadString(env, value, &s)) return false;
      TF_SetAttrString(desc, n, s.data(), s.size());
      return true;
    }
    case TF_ATTR_INT: {
      if (list) {
        std::vector<double> d;
        if (!ReadDoubleList(env, value, &d)) return false;
        std::vector<int64_t> v(d.begin(), d.end());
        TF_SetAttrIntList(desc, n, v.data(), static_cast<int>(v.size()));
      } else {
        int64_t v = 0;
        if (!NapiOk(env, napi_get_value_int64(env, value, &v), "integer attribute")) return false;
        TF_SetAttrInt(desc, n, v);
        if (name == "N") *listLength = v;
      }
      return true;
    }
    case TF_ATTR_FLOAT: {
      if (list) {
        std::vector<double> d;
        if (!ReadDoubleList(env, value, &d)) return false;
        std::vector<float> v(d.begin(), d.end());
        TF_SetAttrFloatList(desc, n, v.data(), static_cast<int>(v.size()));
      } else {
        double v = 0;
        if (!NapiOk(env, napi_get_value_double(env, value, &v), "float attribute")) return false;
        TF_SetAttrFloat(desc, n, static_cast<float>(v));
      }
      return true;
    }
    case TF_ATTR_BOOL: {
      if (list) {
        std::vector<unsigned char> v;
        if (!ReadBoolList(env, value, &v)) return false;
        TF_SetAttrBoolList(desc, n, v.data(), static_cast<int>(v.size()));
      } else {
        bool v = false;
        if (!NapiOk(env, napi_get_value_bool(env, value, &v), "boolean attribute")) return false;
        TF_SetAttrBool(desc, n, v ? 1 : 0);
      }
      return true;
    }
    case TF_ATTR_TYPE: {
      if (list) {
        std::vector<int32_t> t;
        if (!ReadInt32List(env, value, &t)) return false;
        std::vector<TF_DataType> v;
        for (int32_t x : t) v.push_back(static_cast<TF_DataType>(x));
        TF_SetAttrTypeList(desc, n, v.data(), static_cast<int>(v.size()));
      } else {
        int32_t v = 0;
        if (!NapiOk(env, napi_get_value_int32(env, value, &v), "type attribute")) return false;
        TF_SetAttrType(desc, n, static_cast<TF_DataType>(v));
      }
      return true;
    }
    case TF_ATTR_SHAPE: {
      std::vector<double> d;
      if (!ReadDoubleList(env, value, &d)) return false;
      std::vector<int64_t> dims(d.begin(), d.end());
      TF_SetAttrShape(desc, n, dims.data(), static_cast<int>(dims.size()));
      return true;
    }
    default:
      return Fail(env, "attribute '" + name + "' has an unknown type " + std::to_string(type)), false;
  }
}

// Where an op's list input starts among its inputs (the list's length is its attribute N); -1 for ops without one.
// Only ops tfjs-node executes with a list input are listed; any other would fail in TF_FinishOperation, and the
// recording with it, never silently.
static int ListInputStart(const std::string &op) {
  if (op == "ConcatV2" || op == "Pack" || op == "AddN") return 0;
  if (op == "Concat") return 1;
  return -1;
}

static bool ShapeOf(TFE_TensorHandle *handle, std::vector<int64_t> *shape, TF_Status *status) {
  int rank = TFE_TensorHandleNumDims(handle, status);
  if (TF_GetCode(status) != TF_OK) return false;
  shape->resize(rank);
  for (int i = 0; i < rank; i++) (*shape)[i] = TFE_TensorHandleDim(handle, i, status);
  return TF_GetCode(status) == TF_OK;
}

static bool HandleOf(napi_env env, TFJSBackend *backend, int32_t id, TFE_TensorHandle **handle) {
  auto entry = backend->tfe_handle_map_.find(id);
  if (entry == backend->tfe_handle_map_.end()) return Fail(env, "tensor " + std::to_string(id) + " does not exist"), false;
  *handle = entry->second;
  return true;
}

// A node with one output, added to the recording's graph: a Placeholder of a runtime input or the Const of a capture.
static bool AddSource(napi_env env, TFE_TensorHandle *handle, bool placeholder, TF_Output *out,
                      std::vector<int64_t> *shape) {
  Recording &r = *recording;
  TF_Status *status = TF_NewStatus();
  const TF_DataType dtype = TFE_TensorHandleDataType(handle);
  bool ok = ShapeOf(handle, shape, status);
  TF_Tensor *value = nullptr;
  if (ok && !placeholder) {
    value = TFE_TensorHandleResolve(handle, status);
    ok = TF_GetCode(status) == TF_OK;
  }
  if (ok) {
    std::string name = (placeholder ? "input_" : "captured_") + std::to_string(r.nodes++);
    TF_OperationDescription *desc = TF_NewOperation(r.graph, placeholder ? "Placeholder" : "Const", name.c_str());
    TF_SetAttrType(desc, "dtype", dtype);
    if (placeholder) TF_SetAttrShape(desc, "shape", shape->data(), static_cast<int>(shape->size()));
    else TF_SetAttrTensor(desc, "value", value, status);
    TF_Operation *op = TF_GetCode(status) == TF_OK ? TF_FinishOperation(desc, status) : nullptr;
    ok = TF_GetCode(status) == TF_OK;
    if (ok) *out = {op, 0};
  }
  if (value) TF_DeleteTensor(value);
  if (!ok) TfOk(env, status, placeholder ? "input placeholder" : "captured constant");
  TF_DeleteStatus(status);
  return ok;
}

// The graph tensor standing for tensor `id`: a recorded op's output, a runtime input's placeholder, or (made on
// first use) the constant of a captured tensor.
static bool Resolve(napi_env env, TFJSBackend *backend, int32_t id, TF_Output *out) {
  Recording &r = *recording;
  auto &known = id < 0 ? r.symbolic : r.real;
  auto found = known.find(id);
  if (found != known.end()) {
    *out = found->second;
    return true;
  }
  if (id < 0) return Fail(env, "tensor " + std::to_string(id) + " is not of this recording"), false;
  TFE_TensorHandle *handle = nullptr;
  std::vector<int64_t> shape;
  if (!HandleOf(env, backend, id, &handle) || !AddSource(env, handle, false, out, &shape)) return false;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  r.capturedShapes.push_back(shape);
  r.capturedElements += n;
  r.real[id] = *out;
  return true;
}

static napi_value TensorInfo(napi_env env, int32_t id, const std::vector<int64_t> &shape, TF_DataType dtype) {
  napi_value info, idValue, shapeValue, dtypeValue;
  napi_create_object(env, &info);
  napi_create_int32(env, id, &idValue);
  napi_create_array_with_length(env, shape.size(), &shapeValue);
  for (size_t i = 0; i < shape.size(); i++) {
    napi_value dim;
    napi_create_int64(env, shape[i], &dim);
    napi_set_element(env, shapeValue, i, dim);
  }
  napi_create_int32(env, dtype, &dtypeValue);
  napi_set_named_property(env, info, "id", idValue);
  napi_set_named_property(env, info, "shape", shapeValue);
  napi_set_named_property(env, info, "dtype", dtypeValue);
  return info;
}

// executeOp while recording: adds the op to the graph and returns its outputs' ids, shapes and dtypes.
napi_value RecordOp(napi_env env, TFJSBackend *backend, napi_value opName, napi_value attrs, napi_value inputIds,
                    napi_value numOutputs) {
  Recording &r = *recording;
  std::string op;
  std::vector<int32_t> ids;
  int32_t expectedOutputs = 0;
  if (!ReadString(env, opName, &op) || !ReadInt32List(env, inputIds, &ids)) return nullptr;
  if (!NapiOk(env, napi_get_value_int32(env, numOutputs, &expectedOutputs), "number of outputs")) return nullptr;
  std::vector<TF_Output> inputs(ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    if (!Resolve(env, backend, ids[i], &inputs[i])) return nullptr;
  }
  std::string node = op + "_" + std::to_string(r.nodes++);
  TF_OperationDescription *desc = TF_NewOperation(r.graph, op.c_str(), node.c_str());
  uint32_t attrCount = 0;
  if (!NapiOk(env, napi_get_array_length(env, attrs, &attrCount), "attributes")) return nullptr;
  int64_t listLength = -1;
  for (uint32_t i = 0; i < attrCount; i++) {
    napi_value attr;
    if (!NapiOk(env, napi_get_element(env, attrs, i, &attr), "attribute")) return nullptr;
    if (!SetAttr(env, desc, attr, &listLength)) return nullptr;
  }
  const int listStart = ListInputStart(op);
  for (size_t i = 0; i < inputs.size();) {
    if (static_cast<int>(i) == listStart && listLength >= 0) {
      if (i + listLength > inputs.size()) return Fail(env, op + ": N = " + std::to_string(listLength) + " but " + std::to_string(inputs.size()) + " inputs");
      TF_AddInputList(desc, &inputs[i], static_cast<int>(listLength));
      i += listLength;
    } else {
      TF_AddInput(desc, inputs[i]);
      i++;
    }
  }
  TF_Status *status = TF_NewStatus();
  TF_Operation *oper = TF_FinishOperation(desc, status);
  if (!TfOk(env, status, "recording " + op)) return TF_DeleteStatus(status), nullptr;
  const int count = TF_OperationNumOutputs(oper);
  if (count != expectedOutputs) {
    TF_DeleteStatus(status);
    return Fail(env, op + " has " + std::to_string(count) + " outputs, tfjs expected " + std::to_string(expectedOutputs));
  }
  napi_value result;
  napi_create_array_with_length(env, count, &result);
  for (int i = 0; i < count; i++) {
    TF_Output out{oper, i};
    const int rank = TF_GraphGetTensorNumDims(r.graph, out, status);
    if (TF_GetCode(status) != TF_OK || rank < 0) {
      TF_DeleteStatus(status);
      return Fail(env, op + ": output " + std::to_string(i) + " has no static rank");
    }
    std::vector<int64_t> shape(rank);
    TF_GraphGetTensorShape(r.graph, out, shape.data(), rank, status);
    bool known = TF_GetCode(status) == TF_OK;
    for (int64_t d : shape) known = known && d >= 0;
    if (!known) {
      TF_DeleteStatus(status);
      return Fail(env, op + ": output " + std::to_string(i) + " has no static shape");
    }
    const int32_t id = r.nextId--;
    r.symbolic[id] = out;
    napi_set_element(env, result, i, TensorInfo(env, id, shape, TF_OperationOutputType(out)));
  }
  TF_DeleteStatus(status);
  return result;
}

static void DropRecording() {
  if (!recording) return;
  TF_DeleteGraph(recording->graph);
  delete recording;
  recording = nullptr;
}

// A placeholder for real tensor `id`, the recording's next runtime input.
static bool AddInput(napi_env env, int32_t id) {
  TFJSBackend *backend = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void **>(&backend));
  Recording &r = *recording;
  TFE_TensorHandle *handle = nullptr;
  TF_Output placeholder;
  std::vector<int64_t> shape;
  if (id < 0) return Fail(env, "a runtime input must be a real tensor, not a recorded one"), false;
  if (r.real.count(id)) return Fail(env, "tensor " + std::to_string(id) + " is already an input or captured"), false;
  if (!HandleOf(env, backend, id, &handle) || !AddSource(env, handle, true, &placeholder, &shape)) return false;
  r.real[id] = placeholder;
  r.placeholders.push_back(placeholder);
  r.inputShapes.push_back(shape);
  r.inputTypes.push_back(TFE_TensorHandleDataType(handle));
  return true;
}

// graphBegin(inputIds): opens a recording of a function of these real tensors, in this order.
napi_value GraphBegin(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  if (!NapiOk(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), "graphBegin") || argc < 1) return Fail(env, "graphBegin(inputIds)");
  if (recording) return Fail(env, "a recording is already open");
  std::vector<int32_t> ids;
  if (!ReadInt32List(env, args[0], &ids)) return nullptr;
  recording = new Recording();
  recording->graph = TF_NewGraph();
  for (int32_t id : ids) {
    if (!AddInput(env, id)) return DropRecording(), nullptr;
  }
  return nullptr;
}

// graphInput(id): one more runtime input of the open recording (after those given to graphBegin), for a tensor
// made while recording, such as random noise drawn in JavaScript.
napi_value GraphInput(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int32_t id = 0;
  if (!NapiOk(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), "graphInput") || argc < 1) return Fail(env, "graphInput(id)");
  if (!recording) return Fail(env, "graphInput without graphBegin");
  if (!NapiOk(env, napi_get_value_int32(env, args[0], &id), "tensor id")) return nullptr;
  if (!AddInput(env, id)) return nullptr;
  return nullptr;
}

// graphAbort(): discards the open recording, if any.
napi_value GraphAbort(napi_env env, napi_callback_info) {
  DropRecording();
  return nullptr;
}

// graphEnd(outputIds, xla) -> {id, capturedShapes, capturedElements}: the recording becomes a function of its inputs
// returning these tensors.
napi_value GraphEnd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  if (!NapiOk(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), "graphEnd") || argc < 2) return Fail(env, "graphEnd(outputIds, xla)");
  if (!recording) return Fail(env, "graphEnd without graphBegin");
  TFJSBackend *backend = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void **>(&backend));
  std::vector<int32_t> outputIds;
  bool xla = false;
  if (!ReadInt32List(env, args[0], &outputIds)) return nullptr;
  if (!NapiOk(env, napi_get_value_bool(env, args[1], &xla), "xla")) return nullptr;
  Recording &r = *recording;
  std::vector<TF_Output> outputs;
  TF_Status *status = TF_NewStatus();
  for (int32_t id : outputIds) {
    TF_Output out;
    if (!Resolve(env, backend, id, &out)) return TF_DeleteStatus(status), nullptr;
    if (id >= 0) {  // a function cannot return a placeholder or constant as it is
      std::string node = "Identity_" + std::to_string(r.nodes++);
      TF_OperationDescription *desc = TF_NewOperation(r.graph, "Identity", node.c_str());
      TF_AddInput(desc, out);
      TF_Operation *identity = TF_FinishOperation(desc, status);
      if (!TfOk(env, status, "output identity")) return TF_DeleteStatus(status), nullptr;
      out = {identity, 0};
    }
    outputs.push_back(out);
  }
  Function f{"cover_graph_" + std::to_string(functionsMade++), r.inputShapes, r.inputTypes, static_cast<int>(outputs.size())};
  TF_Function *fn = TF_GraphToFunction(r.graph, f.name.c_str(), 0, -1, nullptr, static_cast<int>(r.placeholders.size()),
                                       r.placeholders.data(), static_cast<int>(outputs.size()), outputs.data(), nullptr,
                                       nullptr, nullptr, status);
  if (!TfOk(env, status, "graph to function")) return TF_DeleteStatus(status), nullptr;
  if (xla) {
    const unsigned char mustCompile[] = {0x28, 0x01};  // AttrValue{b: true}
    TF_FunctionSetAttrValueProto(fn, "_XlaMustCompile", mustCompile, sizeof(mustCompile), status);
  }
  if (TF_GetCode(status) == TF_OK) TFE_ContextAddFunction(backend->tfe_context_, fn, status);
  TF_DeleteFunction(fn);
  if (!TfOk(env, status, "registering the function")) return TF_DeleteStatus(status), nullptr;
  TF_DeleteStatus(status);
  const int32_t id = nextFunctionId++;
  functions[id] = std::move(f);
  napi_value result, idValue, shapesValue, elementsValue;
  napi_create_object(env, &result);
  napi_create_int32(env, id, &idValue);
  napi_create_array_with_length(env, r.capturedShapes.size(), &shapesValue);
  for (size_t i = 0; i < r.capturedShapes.size(); i++) {
    napi_value shape;
    napi_create_array_with_length(env, r.capturedShapes[i].size(), &shape);
    for (size_t j = 0; j < r.capturedShapes[i].size(); j++) {
      napi_value dim;
      napi_create_int64(env, r.capturedShapes[i][j], &dim);
      napi_set_element(env, shape, j, dim);
    }
    napi_set_element(env, shapesValue, i, shape);
  }
  napi_create_int64(env, r.capturedElements, &elementsValue);
  DropRecording();
  napi_set_named_property(env, result, "id", idValue);
  napi_set_named_property(env, result, "capturedShapes", shapesValue);
  napi_set_named_property(env, result, "capturedElements", elementsValue);
  return result;
}

// graphRun(id, inputIds) -> output tensor infos: runs a function on real tensors of the recorded shapes.
napi_value GraphRun(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  if (!NapiOk(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), "graphRun") || argc < 2) return Fail(env, "graphRun(id, inputIds)");
  if (recording) return Fail(env, "graphRun while a recording is open");
  TFJSBackend *backend = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void **>(&backend));
  int32_t id = 0;
  std::vector<int32_t> ids;
  if (!NapiOk(env, napi_get_value_int32(env, args[0], &id), "function id") || !ReadInt32List(env, args[1], &ids)) return nullptr;
  auto found = functions.find(id);
  if (found == functions.end()) return Fail(env, "no function " + std::to_string(id));
  Function &f = found->second;
  if (ids.size() != f.inputShapes.size()) {
    return Fail(env, f.name + " takes " + std::to_string(f.inputShapes.size()) + " inputs, got " + std::to_string(ids.size()));
  }
  TF_Status *status = TF_NewStatus();
  TFE_Op *op = TFE_NewOp(backend->tfe_context_, f.name.c_str(), status);
  if (!TfOk(env, status, "creating the call")) return TF_DeleteStatus(status), nullptr;
  for (size_t i = 0; i < ids.size(); i++) {
    auto entry = backend->tfe_handle_map_.find(ids[i]);
    std::vector<int64_t> shape;
    const bool exists = entry != backend->tfe_handle_map_.end();
    if (!exists || !ShapeOf(entry->second, &shape, status) || shape != f.inputShapes[i] ||
        TFE_TensorHandleDataType(entry->second) != f.inputTypes[i]) {
      TFE_DeleteOp(op);
      TF_DeleteStatus(status);
      return Fail(env, f.name + ": input " + std::to_string(i) + (exists ? " has another shape or dtype than recorded" : " does not exist"));
    }
    TFE_OpAddInput(op, entry->second, status);
  }
  std::vector<TFE_TensorHandle *> results(f.outputs, nullptr);
  int count = f.outputs;
  if (TF_GetCode(status) == TF_OK) TFE_Execute(op, results.data(), &count, status);
  TFE_DeleteOp(op);
  if (!TfOk(env, status, "running " + f.name)) return TF_DeleteStatus(status), nullptr;
  TF_DeleteStatus(status);
  napi_value result;
  napi_create_array_with_length(env, count, &result);
  for (int i = 0; i < count; i++) napi_set_element(env, result, i, backend->GenerateOutputTensorInfo(env, results[i]));
  return result;
}

// graphDelete(id): removes a function.
napi_value GraphDelete(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value args[1];
  int32_t id = 0;
  if (!NapiOk(env, napi_get_cb_info(env, info, &argc, args, nullptr, nullptr), "graphDelete") || argc < 1) return Fail(env, "graphDelete(id)");
  if (!NapiOk(env, napi_get_value_int32(env, args[0], &id), "function id")) return nullptr;
  auto found = functions.find(id);
  if (found == functions.end()) return nullptr;
  TFJSBackend *backend = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void **>(&backend));
  TF_Status *status = TF_NewStatus();
  TFE_ContextRemoveFunction(backend->tfe_context_, found->second.name.c_str(), status);
  TF_DeleteStatus(status);
  functions.erase(found);
  return nullptr;
}

}  // namespace cover_graph
