#include "xfmr/io/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "io/io_test_util.h"
#include "xfmr/io/file_util.h"

using namespace xfmr;
using namespace xfmr::io;
using test::ScratchDir;

namespace {

// Bitwise comparison of two tensors' logical contents (same dtype and shape).
void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const Tensor ca = a.contiguous_copy(), cb = b.contiguous_copy();
  EXPECT_EQ(std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()), 0) << what;
}

Tensor random_tensor(const Shape& shape, DType dt, std::mt19937_64& rng) {
  std::normal_distribution<double> nd;
  std::vector<double> v(static_cast<size_t>(shape.numel()));
  for (double& x : v) x = dtype_is_int(dt) ? std::round(nd(rng) * 1000) : nd(rng);
  return Tensor::from_vector(std::span<const double>(v), shape, dt);
}

std::vector<std::pair<std::string, Tensor>> mixed_tensors() {
  std::mt19937_64 rng(7);
  return {{"a.f32", random_tensor({3, 5}, DType::f32, rng)},   {"b.f64", random_tensor({2, 3, 4}, DType::f64, rng)},
          {"c.bf16", random_tensor({7}, DType::bf16, rng)},    {"d.f16", random_tensor({3, 3}, DType::f16, rng)},
          {"e.i32", random_tensor({5}, DType::i32, rng)},      {"f.i64", random_tensor({2, 2}, DType::i64, rng)},
          {"g.scalar", random_tensor({}, DType::f32, rng)},    {"h.empty", Tensor::zeros({0, 4}, DType::f32)}};
}

// Builds a raw safetensors file from header text and buffer bytes (no validation: for the bad-file tests).
std::string raw_file(const std::string& header, const std::string& buffer) {
  const uint64_t n = header.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + header + buffer;
}

// Expects load_safetensors(path) to throw an Error naming the file and containing `needle`, on one line.
void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    SafetensorsFile f = load_safetensors(path);
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

bool mapped(const std::string& path) {
  const std::string maps = test::read_bytes("/proc/self/maps");
  return maps.find(std::filesystem::canonical(path).string()) != std::string::npos;
}

}  // namespace

TEST(Safetensors, RoundTripAllDtypes) {
  ScratchDir dir;
  const std::string path = dir.file("m.safetensors");
  const auto tensors = mixed_tensors();
  const std::map<std::string, std::string> meta = {{"step", "42"}, {"arch", "gpt"}};
  save_safetensors(path, tensors, meta);

  const std::string bytes = test::read_bytes(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  EXPECT_EQ(bytes[8], '{');

  SafetensorsFile f = load_safetensors(path);
  EXPECT_EQ(f.metadata(), meta);
  EXPECT_EQ(f.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(f.contains(name)) << name;
    expect_same_bits(f.get(name), t, name);
    expect_same_bits(f.copy(name), t, name);
    // get() borrows the mapping (two gets view the same bytes); copy() owns fresh memory.
    if (t.numel() > 0) {
      EXPECT_EQ(f.get(name).raw_data(), f.get(name).raw_data()) << name;
      EXPECT_NE(f.copy(name).raw_data(), f.get(name).raw_data()) << name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(f.get(name).raw_data()) % dtype_size(t.dtype()), 0u) << "aligned";
    }
  }
  // names() in data order: 8-byte dtypes first, then 4, then 2 (the reference writer's alignment order).
  size_t prev = 8;
  for (const auto& name : f.names()) {
    const size_t s = dtype_size(f.get(name).dtype());
    EXPECT_LE(s, prev) << name;
    prev = s;
  }
  EXPECT_FALSE(f.get("a.f32").requires_grad());
}

TEST(Safetensors, NonContiguousWrittenInLogicalOrder) {
  ScratchDir dir;
  const std::string path = dir.file("t.safetensors");
  std::mt19937_64 rng(3);
  const Tensor base = random_tensor({4, 6}, DType::f32, rng);
  const Tensor t = base.as_strided({6, 4}, {1, 6}, 0);  // transpose
  const Tensor s = base.as_strided({2, 3}, {12, 2}, 1);  // rows 0 and 2, every other column from 1
  ASSERT_FALSE(t.is_contiguous());
  save_safetensors(path, {{"t", t}, {"s", s}});
  SafetensorsFile f = load_safetensors(path);
  EXPECT_EQ(f.get("t").to_vector(), t.to_vector());
  EXPECT_EQ(f.get("s").to_vector(), s.to_vector());
}

TEST(Safetensors, EmptyFileWithMetadataOnly) {
  ScratchDir dir;
  const std::string path = dir.file("e.safetensors");
  save_safetensors(path, {}, {{"k", "v"}});
  SafetensorsFile f = load_safetensors(path);
  EXPECT_EQ(f.size(), 0u);
  EXPECT_EQ(f.metadata().at("k"), "v");
  save_safetensors(path, {});
  EXPECT_TRUE(load_safetensors(path).metadata().empty());
}

TEST(Safetensors, SaveRejectsBadInput) {
  ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  const Tensor t = Tensor::ones({2});
  auto expect_save_error = [&](const std::vector<std::pair<std::string, Tensor>>& ts, const std::string& needle) {
    try {
      save_safetensors(path, ts);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(path));
  };
  expect_save_error({{"x", t}, {"y", t}, {"x", t}}, "duplicate tensor name 'x'");
  expect_save_error({{"__metadata__", t}}, "reserved");
  expect_save_error({{"", t}}, "empty tensor name");
  expect_save_error({{"u", Tensor()}}, "undefined");
  expect_save_error({{"bad\xff", t}}, "cannot encode header");  // not UTF-8
  EXPECT_THROW(save_safetensors(dir.file("no/such/dir/x.safetensors"), {{"x", t}}), Error);
}

TEST(Safetensors, AtomicWriteKeepsOldFileOnFailure) {
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"w", Tensor::full({3}, 1.5)}});
  const std::string before = test::read_bytes(path);
  // A writer that fails half way: the old file must be untouched and no temp file left behind.
  EXPECT_THROW(write_file_atomic(path,
                                 [](FileWriter& w) {
                                   w.write("garbage", 7);
                                   throw Error("simulated failure");
                                 }),
               Error);
  EXPECT_EQ(test::read_bytes(path), before);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1) << "temp file left behind";
  // A successful overwrite replaces the content; a reader that mapped the old file keeps seeing the old data.
  SafetensorsFile old = load_safetensors(path);
  save_safetensors(path, {{"w", Tensor::full({3}, 2.5)}});
  EXPECT_EQ(old.get("w").to_vector(), (std::vector<double>{1.5, 1.5, 1.5}));
  EXPECT_EQ(load_safetensors(path).get("w").to_vector(), (std::vector<double>{2.5, 2.5, 2.5}));
}

TEST(Safetensors, BorrowedTensorsOutliveTheFileAndWritesStayPrivate) {
  ScratchDir dir;
  const std::string path = dir.file("life.safetensors");
  const Tensor w = Tensor::arange(1000, DType::f32);
  save_safetensors(path, {{"w", w}});
  Tensor kept;
  {
    SafetensorsFile f = load_safetensors(path);
    kept = f.get("w");
    EXPECT_TRUE(mapped(path));
  }
  // The file object is gone; the tensor still views the (parked) mapping.
  EXPECT_TRUE(mapped(path));
  EXPECT_EQ(kept.to_vector(), w.to_vector());
  Tensor view = kept.as_strided({10}, {100}, 5);  // a view of a view also keeps it alive
  kept = Tensor();
  { SafetensorsFile other = load_safetensors(path); }  // sweeps parked mappings
  EXPECT_TRUE(mapped(path));
  EXPECT_EQ(view.at({1}), 105.0);
  view = Tensor();
  { SafetensorsFile other = load_safetensors(path); }
  EXPECT_FALSE(mapped(path)) << "mapping not released once unused";

  // Copy-on-write: an in-place write to a borrowed tensor never reaches the file.
  {
    SafetensorsFile f = load_safetensors(path);
    Tensor t = f.get("w");
    t.fill_(-1.0);
    EXPECT_EQ(f.get("w").at({3}), -1.0);  // same process, same pages
  }
  EXPECT_EQ(load_safetensors(path).get("w").to_vector(), w.to_vector());
}

TEST(Safetensors, MissingNameListsAvailable) {
  ScratchDir dir;
  const std::string path = dir.file("n.safetensors");
  save_safetensors(path, {{"alpha", Tensor::ones({1})}, {"beta", Tensor::ones({1})}});
  SafetensorsFile f = load_safetensors(path);
  try {
    f.get("gamma");
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'gamma'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("alpha, beta"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
  EXPECT_THROW(f.copy("gamma"), Error);
  SafetensorsFile empty;
  EXPECT_THROW(empty.names(), Error);
  EXPECT_THROW(empty.get("alpha"), Error);
}

TEST(Safetensors, BadFilesGiveOneLineErrors) {
  ScratchDir dir;
  const std::string p = dir.file("bad.safetensors");
  auto with = [&](const std::string& bytes, const std::string& needle) {
    test::write_bytes(p, bytes);
    expect_load_error(p, needle);
  };
  const std::string ok_entry = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string eight(8, '\1');

  expect_load_error(dir.file("missing.safetensors"), "cannot open");
  with("", "too short");
  with("\x05\0\0", "too short");
  with(raw_file(ok_entry, eight).substr(0, 20), "exceeds");              // truncated inside the header
  with(raw_file(ok_entry, eight).substr(0, 8 + ok_entry.size() + 5), "beyond");  // truncated inside the data
  {
    std::string f = raw_file(ok_entry, eight);
    const uint64_t huge = ~0ull;
    std::memcpy(f.data(), &huge, 8);
    with(f, "header length");
  }
  with(raw_file(R"({"x": {"dtype": "F32",)", ""), "invalid JSON header");
  with(raw_file("{\"x\":\n{\"dtype\" \"F32\"}}", ""), "line 2");
  with(raw_file("[1, 2]", ""), "not an object");
  with(raw_file("", ""), "invalid JSON");
  with(raw_file(R"({"x":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", eight), "unknown dtype 'F33'");
  with(raw_file(R"({"x":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", eight), "unsupported dtype 'U8'");
  with(raw_file(R"({"x":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", eight), "dtype");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), "non-negative");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight), "non-negative");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[1,1,1,1,1,1,1,2],"data_offsets":[0,8]}})", eight), "rank 8");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", eight),
       "overflows");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[2]}})", eight), "data_offsets");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", eight), "data_offsets");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight), "begin > end");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", eight), "beyond the 8-byte");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight), "needs 12");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
                    "y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight), "overlaps");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight), "gap");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight), "trailing bytes");
  with(raw_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},
                    "x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight), "'x' twice");
  with(raw_file(R"({"__metadata__":{"a":1},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight),
       "not a string");
  with(raw_file(R"({"__metadata__":[],"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight),
       "__metadata__");
  with(raw_file(R"({"x":[1,2]})", ""), "not an object");
  with(raw_file("{\"x\x01\":5}", ""), "invalid JSON");  // control character stays out of the message
  std::filesystem::create_directory(dir.file("adir"));
  expect_load_error(dir.file("adir"), "not a regular file");
}

// Random truncations and byte flips of a valid file: each load must give an Error or a valid file whose tensors
// can all be read. Meaningful under the debug (ASan + UBSan) preset.
TEST(Safetensors, FuzzTruncationsAndByteFlips) {
  ScratchDir dir(/*in_memory=*/true);
  const std::string good = dir.file("good.safetensors"), p = dir.file("fuzz.safetensors");
  save_safetensors(good, mixed_tensors(), {{"meta", "data"}});
  const std::string bytes = test::read_bytes(good);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  // XFMR_FUZZ_ITERS=N runs a longer campaign (seed varies with N); the default keeps the test fast.
  const char* env = std::getenv("XFMR_FUZZ_ITERS");
  const int iters = env ? std::atoi(env) : 2000;
  std::mt19937_64 rng(12345 + static_cast<uint64_t>(iters));
  int loaded = 0, rejected = 0;
  for (int iter = 0; iter < iters; ++iter) {
    std::string b = bytes;
    const int mode = iter % 4;
    if (mode == 0) {  // truncation anywhere
      b.resize(rng() % b.size());
    } else if (mode == 1) {  // digit swaps in the header: still valid JSON, wrong shapes/offsets/lengths
      for (int k = 0; k < 2; ++k) {
        const size_t pos = rng() % (8 + n);
        if (pos < 8) b[pos] = static_cast<char>(rng());
        else if (b[pos] >= '0' && b[pos] <= '9') b[pos] = static_cast<char>('0' + rng() % 10);
      }
    } else {  // random byte flips: in the length field + header (mode 2) or anywhere (mode 3)
      const size_t span = (mode == 2) ? 8 + n : b.size();
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        const size_t pos = rng() % span;
        b[pos] = (rng() % 2) ? static_cast<char>(rng()) : static_cast<char>(b[pos] ^ (1 << (rng() % 8)));
      }
    }
    test::write_bytes(p, b);
    try {
      SafetensorsFile f = load_safetensors(p);
      for (const auto& name : f.names()) {
        const Tensor g = f.get(name), c = f.copy(name);
        ASSERT_EQ(g.nbytes(), c.nbytes());
        volatile double sink = 0;
        for (double v : g.to_vector()) sink = sink + v;
        EXPECT_EQ(std::memcmp(g.contiguous_copy().raw_data(), c.raw_data(), c.nbytes()), 0);
      }
      ++loaded;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      ++rejected;
    }
  }
  std::printf("fuzz: %d loads succeeded, %d rejected with Error\n", loaded, rejected);
  EXPECT_GT(loaded, iters / 8);
  EXPECT_GT(rejected, iters / 8);
}

// ---- interop with the independent python implementation (tests/reference/safetensors_ref.py) ----

namespace {

// The shared test set; the python script defines the same values (expected_tensors there).
std::vector<double> eighths(int n, double plus = 0) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(((i * 37) % 101 - 50) / 8.0 + plus);
  return v;
}

std::vector<std::pair<std::string, Tensor>> interop_expected() {
  const std::vector<int64_t> i64 = {-2 * 1152921504606846977LL, -1152921504606846977LL, 0, 1152921504606846977LL};
  const std::vector<int64_t> i32 = {-2147483648LL, 2147483647, 0, -1, 12345, -54321};
  const std::vector<double> f64 = eighths(12, 1.0 / 3.0);
  // w_f32 is written through a transposed (non-contiguous) view to check logical order on the python side.
  const std::vector<double> f32 = eighths(12, 0.1);
  std::vector<double> f32_t(12);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) f32_t[static_cast<size_t>(j * 3 + i)] = f32[static_cast<size_t>(i * 4 + j)];
  const Tensor f32_base = Tensor::from_vector(std::span<const double>(f32_t), {4, 3}, DType::f32);
  return {
      {"w_f32", f32_base.as_strided({3, 4}, {1, 3}, 0)},
      {"w_f64", Tensor::from_vector(std::span<const double>(f64), {2, 3, 2}, DType::f64)},
      {"w_bf16", Tensor::from_vector(std::span<const double>(eighths(15)), {5, 3}, DType::bf16)},
      {"w_f16", Tensor::from_vector(std::span<const double>(eighths(7)), {7}, DType::f16)},
      {"idx_i64", Tensor::from_vector(std::span<const int64_t>(i64), {4}, DType::i64)},
      {"idx_i32", Tensor::from_vector(std::span<const int64_t>(i32), {2, 3}, DType::i32)},
      {"scalar_f32", Tensor::scalar(2.5, DType::f32)},
      {"empty_f32", Tensor::zeros({0, 3}, DType::f32)},
  };
}
const std::map<std::string, std::string> kInteropMeta = {
    {"format", "pt"}, {"step", "1234"}, {"note", "unicode \u2713 and \"quotes\""}};

std::string ref_script() { return "/usr/bin/python3 " + test::source_dir() + "/tests/reference/safetensors_ref.py"; }

}  // namespace

TEST(SafetensorsInterop, CppWritesPythonReads) {
  ScratchDir dir;
  const std::string path = dir.file("cpp.safetensors");
  save_safetensors(path, interop_expected(), kInteropMeta);
  std::string out;
  const int rc = test::run_command(ref_script() + " check " + path, &out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
}

TEST(SafetensorsInterop, PythonWritesCppReads) {
  ScratchDir dir;
  for (const std::string variant : {"", " --unaligned"}) {
    const std::string path = dir.file("py.safetensors");
    std::string out;
    ASSERT_EQ(test::run_command(ref_script() + " write " + path + variant, &out), 0) << out;
    SafetensorsFile f = load_safetensors(path);
    EXPECT_EQ(f.metadata(), kInteropMeta) << variant;
    const auto expected = interop_expected();
    EXPECT_EQ(f.size(), expected.size());
    for (const auto& [name, t] : expected) {
      ASSERT_TRUE(f.contains(name)) << name << variant;
      expect_same_bits(f.get(name), t, name + variant);
      expect_same_bits(f.copy(name), t, name + variant);
      // Typed element loads (UBSan checks their alignment); misaligned file data must come back as an aligned copy.
      const Tensor g = f.get(name);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(g.raw_data()) % dtype_size(g.dtype()), 0u) << name << variant;
      if (dtype_is_float(g.dtype())) EXPECT_EQ(g.to_vector(), t.to_vector()) << name << variant;
      else EXPECT_EQ(g.to_int_vector(), t.to_int_vector()) << name << variant;
    }
  }
}
