"""TFLM tree discovery, description, source selection and the library cache, on small synthetic trees
(no real TFLM needed: these run everywhere, fast)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from armlprof.errors import ArmlprofError
from armlprof.runtime.tflm import library as tflm_library
from armlprof.runtime.tflm import tree as tflm

RESOLVER_H = """
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  TfLiteStatus AddCustom(const char* name, TfLiteRegistration* registration) { return kTfLiteOk; }
  TfLiteStatus AddConv2D(const TfLiteRegistration& registration = Register_CONV_2D()) { return kTfLiteOk; }
  TfLiteStatus AddDepthwiseConv2D(const TfLiteRegistration& r = Register_DEPTHWISE_CONV_2D()) { return kTfLiteOk; }
  TfLiteStatus AddFullyConnected() { return kTfLiteOk; }
  TfLiteStatus AddSoftmax() { return kTfLiteOk; }
  TfLiteStatus AddReshape() { return kTfLiteOk; }
  TfLiteStatus AddAveragePool2D() { return kTfLiteOk; }
 private:
  TfLiteStatus AddBuiltin(int op) { return kTfLiteOk; }
};
"""


def _write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_tree(root: Path, kind: str = "arduino-library", cmsis_nn: bool = True, downloads: bool = False) -> Path:
    """A tree with the layout of the real ones and a few compilable sources."""
    src = root / "src" if kind == "arduino-library" else root
    micro = src / "tensorflow" / "lite" / "micro"
    _write(micro / "micro_interpreter.h",
           "class MicroInterpreter {\n public:\n  MicroInterpreter(const Model* model, const MicroOpResolver& r,\n"
           "                   uint8_t* tensor_arena, size_t tensor_arena_size);\n};\n")
    _write(micro / "micro_mutable_op_resolver.h", RESOLVER_H)
    _write(micro / "debug_log.h", 'extern "C" void DebugLog(const char* s);\n')
    _write(micro / "micro_interpreter.cpp",
           "#include \"tensorflow/lite/micro/tflm_test.h\"\nint interp() { return K; }\n")
    _write(micro / "tflm_test.h", "#define K 7\n")
    _write(micro / "debug_log.cpp", "#error armlprof provides DebugLog; this must not be compiled\n")
    _write(micro / "micro_interpreter_test.cpp", "#error tests are not library sources\n")
    _write(micro / "memory_planner" / "greedy_memory_planner.cpp", "int planner() { return 1; }\n")
    _write(micro / "kernels" / "conv_common.cpp", "int conv_common() { return 2; }\n")
    _write(micro / "kernels" / "softmax.cpp", "int softmax_reference() { return 3; }\n")
    _write(micro / "kernels" / "xtensa" / "conv.cpp", "#error other targets' kernels are not ours\n")
    _write(src / "tensorflow" / "lite" / "core" / "c" / "common.cpp", "int common() { return 4; }\n")
    if cmsis_nn:
        _write(micro / "kernels" / "cmsis_nn" / "softmax.cpp", "int softmax_cmsis() { return 5; }\n")
        _write(micro / "kernels" / "cmsis_nn" / "conv.cpp", "int conv_cmsis() { return 6; }\n")
    if kind == "tflite-micro":  # a checkout keeps the reference kernel beside the optimized one
        _write(micro / "kernels" / "conv.cpp", "int conv_reference() { return 9; }\n")
    if kind == "arduino-library":
        _write(root / "library.properties", "name=Arduino_TensorFlowLite\nversion=9.8.7-TEST\n")
        third = src / "third_party"
    else:
        third = src / "tensorflow/lite/micro/tools/make/downloads"
    if kind == "arduino-library" or downloads:
        for name in ("flatbuffers/include", "gemmlowp", "ruy"):
            (third / name).mkdir(parents=True, exist_ok=True)
        if cmsis_nn:
            _write(third / "cmsis_nn" / "Source" / "SoftmaxFunctions" / "arm_softmax_s8.c",
                   "int arm_sm(void) { return 8; }\n")
    return root


@pytest.fixture
def no_tree_env(tmp_path, monkeypatch):
    """No $ARMLPROF_TFLM_ROOT and an empty home, so nothing is found unless a test puts it there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv(tflm.ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(home))
    return home


def test_recognizes_arduino_library(tmp_path):
    tree = tflm.recognize(make_tree(tmp_path / "Arduino_TensorFlowLite"))
    assert tree is not None
    assert tree.kind == "arduino-library"
    assert tree.source_root == (tmp_path / "Arduino_TensorFlowLite" / "src").resolve()
    assert tree.version.startswith("9.8.7-TEST")
    assert tree.has_cmsis_nn and tree.missing_third_party == []
    assert tree.default_kernels() == "cmsis-nn"
    # Pointing at src/ finds the same library.
    assert tflm.recognize(tmp_path / "Arduino_TensorFlowLite" / "src").root == tree.root


def test_checkout_without_downloads_says_how_to_get_them(tmp_path):
    tree = tflm.recognize(make_tree(tmp_path / "tflite-micro", kind="tflite-micro"))
    assert tree.kind == "tflite-micro"
    assert tree.missing_third_party == ["flatbuffers", "gemmlowp", "ruy"]
    assert not tree.has_cmsis_nn  # the CMSIS-NN library is a download too
    with pytest.raises(ArmlprofError, match="third_party_downloads") as err:
        tree.check_buildable("reference")
    assert "\n" not in str(err.value)
    assert "MISSING third-party" in tflm.describe_tree(tree)


def test_checkout_with_downloads(tmp_path):
    tree = tflm.recognize(make_tree(tmp_path / "tflite-micro", kind="tflite-micro", downloads=True))
    assert tree.missing_third_party == [] and tree.has_cmsis_nn
    names = {p.relative_to(tree.source_root).as_posix() for p in tree.library_sources("reference")}
    assert "tensorflow/lite/micro/kernels/softmax.cpp" in names
    assert not any("cmsis_nn" in n for n in names)


def test_source_selection_follows_the_makefile(tmp_path):
    tree = tflm.recognize(make_tree(tmp_path / "lib"))
    names = {p.relative_to(tree.source_root).as_posix() for p in tree.library_sources("cmsis-nn")}
    assert "tensorflow/lite/micro/kernels/cmsis_nn/softmax.cpp" in names
    assert "tensorflow/lite/micro/kernels/softmax.cpp" not in names  # replaced by the optimized one
    assert "third_party/cmsis_nn/Source/SoftmaxFunctions/arm_softmax_s8.c" in names
    assert "tensorflow/lite/micro/memory_planner/greedy_memory_planner.cpp" in names
    assert "tensorflow/lite/core/c/common.cpp" in names
    for excluded in ("debug_log.cpp", "micro_interpreter_test.cpp", "xtensa/conv.cpp"):
        assert not any(n.endswith(excluded) for n in names), excluded


def test_reference_kernels_missing_from_arduino_layout_is_one_clear_line(tmp_path):
    tree = tflm.recognize(make_tree(tmp_path / "lib"))
    assert tree.reference_kernels_missing() == ["conv"]
    with pytest.raises(ArmlprofError, match="only CMSIS-NN versions of conv") as err:
        tree.check_buildable("reference")
    assert "\n" not in str(err.value)
    assert "use --tflm-kernels cmsis-nn" in str(err.value) and "kernels=" not in str(err.value)
    with pytest.raises(ArmlprofError, match="unknown TFLM kernels"):
        tree.check_buildable("fast")


def test_lookup_order_explicit_env_sketchbook(tmp_path, no_tree_env, monkeypatch):
    assert tflm.find_tree() is None
    sketchbook = tmp_path / "my sketches"
    make_tree(sketchbook / "libraries" / "Arduino_TensorFlowLite")
    _write(no_tree_env / ".arduino15" / "arduino-cli.yaml",
           "board_manager:\n  additional_urls: []\ndirectories:\n  data: /x\n"
           f"  user: {sketchbook}\nlogging:\n  level: warn\n")
    found = tflm.find_tree()
    assert found is not None and found.found_by == f"sketchbook {sketchbook}"

    env_tree = make_tree(tmp_path / "env_tree")
    monkeypatch.setenv(tflm.ENV_VAR, str(env_tree))
    assert tflm.find_tree().root == env_tree.resolve()
    assert tflm.find_tree().found_by == f"${tflm.ENV_VAR}"

    explicit = make_tree(tmp_path / "explicit_tree")
    assert tflm.find_tree(explicit).root == explicit.resolve()
    with pytest.raises(ArmlprofError, match="is not a TFLM tree"):
        tflm.find_tree(tmp_path / "nothing here")


def test_default_sketchbook_and_ide_preferences(tmp_path, no_tree_env):
    make_tree(no_tree_env / "Arduino" / "libraries" / "Arduino_TensorFlowLite")
    assert tflm.find_tree().found_by == f"sketchbook {no_tree_env / 'Arduino'}"
    _write(no_tree_env / ".arduino15" / "preferences.txt", f"sketchbook.path={tmp_path / 'ide'}\n")
    assert tmp_path / "ide" in tflm.sketchbook_dirs()


def test_unavailable_reason_names_the_ways_to_get_tflm(no_tree_env):
    from armlprof.runtime.tflm.runtime import TflmRuntime

    reason = TflmRuntime().unavailable_reason()
    assert reason is not None and reason.startswith("TFLM not found")  # what the study's TFLM cells say
    assert "arduino-cli lib install Arduino_TensorFlowLite" in reason
    assert tflm.ENV_VAR in reason and "\n" not in reason
    assert tflm.describe_tree(None) == tflm.NOT_FOUND_HINT


def test_resolver_methods_from_the_tree(tmp_path):
    from armlprof.runtime.tflm.runtime import resolver_calls

    tree = tflm.recognize(make_tree(tmp_path / "lib"))
    ops = ["DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "RESHAPE", "SOFTMAX", "RESHAPE"]
    assert resolver_calls(tree, ops) == ["AddDepthwiseConv2D", "AddFullyConnected", "AddReshape", "AddSoftmax"]
    assert "builtin" not in tree.resolver_methods  # AddBuiltin is not an operator
    with pytest.raises(ArmlprofError, match="LSTM has no MicroMutableOpResolver method"):
        resolver_calls(tree, ["LSTM"])


def test_library_is_built_once_and_rebuilt_when_a_source_changes(tmp_path, private_cache):
    tree = tflm.recognize(make_tree(tmp_path / "lib"))
    compiler = tflm_library.Compiler.host("-O0")
    first = tflm_library.build_library(tree, compiler, "cmsis-nn")
    assert not first.cached and first.compiled_objects == 7
    assert first.path.is_file() and first.path.is_relative_to(private_cache / "tflm")
    mtime = first.path.stat().st_mtime_ns

    again = tflm_library.build_library(tree, compiler, "cmsis-nn")
    assert again.cached and again.compiled_objects == 0 and again.path == first.path
    assert again.path.stat().st_mtime_ns == mtime

    # Another kernel choice or other flags: another library. A changed header: a rebuild.
    tree_ref = tflm.recognize(make_tree(tmp_path / "lib2", cmsis_nn=False))
    assert tflm_library.build_library(tree_ref, compiler, "reference").path != first.path
    assert tflm_library.build_library(tree, tflm_library.Compiler.host("-O1"), "cmsis-nn").path != first.path
    header = tree.micro_dir / "tflm_test.h"
    header.write_text("#define K 8\n")
    os.utime(header, ns=(mtime + 10**9, mtime + 10**9))
    changed = tflm_library.build_library(tflm.recognize(tmp_path / "lib"), compiler, "cmsis-nn")
    assert not changed.cached and changed.path != first.path


def test_library_build_error_is_one_line(tmp_path, private_cache):
    root = make_tree(tmp_path / "lib")
    _write(root / "src/tensorflow/lite/micro/broken.cpp", "int broken( { }\n")
    with pytest.raises(ArmlprofError, match=r"TFLM library build failed .*broken\.cpp.*error") as err:
        tflm_library.build_library(tflm.recognize(root), tflm_library.Compiler.host("-O0"), "cmsis-nn")
    assert "\n" not in str(err.value)


def make_upstream_checkout(root: Path) -> Path:
    """A tflite-micro checkout as upstream lays it out: its Makefile, Bazel stubs under third_party/ (no code),
    the Makefile's downloads (CMSIS-NN with float variants and Python bindings that must not be compiled), and
    error_reporter / schema_utils under tensorflow/compiler/mlir/lite/."""
    make_tree(root, kind="tflite-micro", downloads=True)
    _write(root / "tensorflow/lite/micro/tools/make/Makefile", "# TFLM's Makefile\n")
    _write(root / "third_party/flatbuffers/BUILD.oss", "# Bazel stub\n")
    _write(root / "tensorflow/lite/micro/tools/gen_micro_mutable_op_resolver/tool.cc", "#error a tool\n")
    mlir = root / "tensorflow/compiler/mlir/lite"
    _write(mlir / "core/api/error_reporter.cc", "int error_reporter() { return 10; }\n")
    _write(mlir / "schema/schema_utils.cc", "int schema_utils() { return 11; }\n")
    _write(root / "tensorflow/lite/array.cc", "#error excluded with TF_LITE_STATIC_MEMORY\n")
    _write(root / "tensorflow/lite/experimental/microfrontend/lib/fft.cc", "#error not part of the library\n")
    nn = root / tflm.CHECKOUT_DOWNLOADS / "cmsis_nn"
    _write(nn / "Include/arm_nn_tables.h", "#define NN_TABLE 12\n")
    _write(nn / "Source/NNSupportFunctions/arm_nn_tables.c",
           '#include "arm_nn_tables.h"\nint nn_table(void) { return NN_TABLE; }\n')  # needs cmsis_nn/Include
    _write(nn / "Source/NNSupportFunctions/arm_nntables_flt.c", "#error float tables\n")
    _write(nn / "Source/SoftmaxFunctions/arm_softmax_f32.c", "#error ARM_NN_ENABLE_F32\n")
    _write(nn / "Source/SoftmaxFunctions/arm_softmax_f16.c", "#error ARM_NN_ENABLE_F16\n")
    _write(nn / "Source/Bindings/cmsis_nn_bindings.cpp", "#error pybind11\n")
    return root


def test_upstream_checkout_layout_builds(tmp_path, private_cache):
    tree = tflm.recognize(make_upstream_checkout(tmp_path / "tflite-micro"))
    assert tree.kind == "tflite-micro"  # the Bazel stub third_party/flatbuffers/ is not a vendored library
    assert tree.missing_third_party == [] and tree.has_cmsis_nn
    downloads = tree.source_root / tflm.CHECKOUT_DOWNLOADS
    assert tree.third_party["flatbuffers"] == downloads / "flatbuffers"
    includes = tree.include_dirs()
    assert downloads in includes and downloads / "cmsis_nn" / "Include" in includes
    assert downloads / "flatbuffers" / "include" in includes
    names = {p.relative_to(tree.source_root).as_posix() for p in tree.library_sources("cmsis-nn")}
    assert "tensorflow/compiler/mlir/lite/core/api/error_reporter.cc" in names
    assert "tensorflow/compiler/mlir/lite/schema/schema_utils.cc" in names
    assert f"{tflm.CHECKOUT_DOWNLOADS}/cmsis_nn/Source/NNSupportFunctions/arm_nn_tables.c" in names  # not /tools/
    for excluded in ("_f32.c", "_f16.c", "arm_nntables_flt.c", "cmsis_nn_bindings.cpp", "lite/array.cc",
                     "microfrontend/lib/fft.cc", "tool.cc"):
        assert not any(n.endswith(excluded) for n in names), excluded
    # Everything selected compiles (the #error files would not), the CMSIS-NN one only with cmsis_nn/Include.
    lib = tflm_library.build_library(tree, tflm_library.Compiler.host("-O0"), "cmsis-nn")
    assert not lib.cached and lib.compiled_objects == len(names)
    text = tflm.describe_tree(tree)
    assert text.startswith("tflite-micro ") and "tflite-micro checkout layout" in text and "MISSING" not in text


def test_doctor_names_the_layout_and_what_is_missing(tmp_path, no_tree_env, monkeypatch):
    from armlprof.doctor import _tflm_tree

    monkeypatch.setenv(tflm.ENV_VAR, str(make_tree(tmp_path / "tflite-micro", kind="tflite-micro")))
    check = _tflm_tree()
    assert not check.found
    assert "tflite-micro checkout layout" in check.detail and "MISSING third-party flatbuffers, gemmlowp, ruy" \
        in check.detail and "third_party_downloads" in check.detail
    monkeypatch.setenv(tflm.ENV_VAR, str(make_tree(tmp_path / "lib")))
    check = _tflm_tree()
    assert check.found and "arduino-library 9.8.7-TEST" in check.detail and "Arduino library layout" in check.detail
    monkeypatch.setenv(tflm.ENV_VAR, str(tmp_path / "nothing"))
    assert not _tflm_tree().found and "is not a TFLM tree" in _tflm_tree().detail


def test_tree_identity_is_content_not_location(tmp_path, private_cache):
    import shutil

    a = tflm.recognize(make_tree(tmp_path / "a" / "Arduino_TensorFlowLite"))
    shutil.copytree(a.root, tmp_path / "b" / "Arduino_TensorFlowLite")
    b = tflm.recognize(tmp_path / "b" / "Arduino_TensorFlowLite")
    assert a.identity("cmsis-nn") == b.identity("cmsis-nn")
    assert a.identity("cmsis-nn").startswith("arduino-library-9.8.7-TEST-") and " " not in a.identity("cmsis-nn")
    # Same library for both copies, and its objects carry no path of the tree.
    compiler = tflm_library.Compiler.host("-O0")
    assert tflm_library.build_library(a, compiler, "cmsis-nn").path == \
        tflm_library.build_library(b, compiler, "cmsis-nn").path
    header = b.micro_dir / "tflm_test.h"
    header.write_text("#define K 9\n")
    os.utime(header, ns=(header.stat().st_mtime_ns + 10**9,) * 2)
    assert tflm.recognize(b.root).identity("cmsis-nn") != a.identity("cmsis-nn")


def test_link_error_names_the_undefined_references():
    from armlprof.build import link_error

    stderr = ("/usr/bin/ld: /tmp/x/libtflm.a(abc.o): in function `tflite::MicroInterpreter::Init()':\n"
              "micro_interpreter.cc:(.text+0x1c): undefined reference to `tflite::ErrorReporter::Report(char const*, "
              "...)'\n"
              "/usr/bin/ld: micro_interpreter.cc:(.text+0x30): undefined reference to `tflite::ErrorReporter::Report"
              "(char const*, ...)'\n"
              "collect2: error: ld returned 1 exit status\n")
    line = link_error(stderr)
    assert line.startswith("undefined reference to `tflite::ErrorReporter::Report(char const*, ...)'")
    assert "libtflm.a(abc.o)" in line and "collect2" not in line and "\n" not in line
    assert link_error("collect2: error: ld returned 1 exit status\n") == "collect2: error: ld returned 1 exit status"
