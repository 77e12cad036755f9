#include "xfmr/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "xfmr/io/file_util.h"

// The format stores the header length and all elements little-endian; we copy bytes without swapping.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace xfmr::io {

namespace {

// The reference implementation refuses headers above 100 MB; a larger one is certainly corrupt.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* st_dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

// Returns false for names we do not read; `known` tells a valid-but-unsupported safetensors dtype from garbage.
bool parse_dtype(const std::string& s, DType* out, bool* known) {
  static const std::pair<const char*, DType> kSupported[] = {{"F32", DType::f32},  {"F64", DType::f64},
                                                             {"BF16", DType::bf16}, {"F16", DType::f16},
                                                             {"I32", DType::i32},  {"I64", DType::i64}};
  for (const auto& [name, d] : kSupported)
    if (s == name) {
      *out = d;
      return true;
    }
  static const char* kOther[] = {"BOOL", "U8",      "I8",      "I16",     "U16", "U32", "U64",     "F8_E5M2",
                                 "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "C64", "F8_E4M3FNUZ"};
  *known = std::any_of(std::begin(kOther), std::end(kOther), [&](const char* n) { return s == n; });
  return false;
}

// Header-derived text in messages: keep them on one line whatever the file contains.
std::string printable(std::string s, size_t max_len = 200) {
  if (s.size() > max_len) s = s.substr(0, max_len) + "...";
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

std::string strip_json_prefix(const std::string& what) {
  // "[json.exception.parse_error.101] parse error at line 1, column 3: ..." -> "parse error at line 1, ..."
  if (!what.empty() && what[0] == '[') {
    const size_t close = what.find("] ");
    if (close != std::string::npos) return what.substr(close + 2);
  }
  return what;
}

// A mapped file plus one borrowed base tensor per naturally aligned entry. get() hands out views of the bases,
// so a base's Storage refcount above 1 means someone still views the mapping.
struct Region {
  void* addr = nullptr;
  size_t len = 0;
  std::vector<Tensor> bases;

  bool in_use() const {
    for (const Tensor& b : bases)
      if (b.impl()->storage->refcount.load(std::memory_order_acquire) > 1) return true;
    return false;
  }
  ~Region() {
    bases.clear();
    if (addr) ::munmap(addr, len);
  }
};

// Mappings whose SafetensorsFile is gone but that tensors still view. Core's Storage has no release callback
// (it would need e.g. `Ref<RefCounted> keep_alive` or a deleter to tie the mapping to the last storage), so we
// park them here and unmap them when a later sweep finds no users. Intentionally leaked at exit: static tensors
// may still view a mapping while static destructors run.
std::mutex g_parked_mu;
std::vector<std::unique_ptr<Region>>* parked() {
  static auto* list = new std::vector<std::unique_ptr<Region>>();
  return list;
}

void sweep_parked() {
  std::lock_guard<std::mutex> lock(g_parked_mu);
  auto* list = parked();
  std::erase_if(*list, [](const std::unique_ptr<Region>& r) { return !r->in_use(); });
}

void release_region(std::unique_ptr<Region> r) {
  if (r && r->in_use()) {
    std::lock_guard<std::mutex> lock(g_parked_mu);
    parked()->push_back(std::move(r));
  }
  r.reset();
  sweep_parked();
}

struct Entry {
  DType dtype = DType::f32;
  Shape shape;
  uint64_t begin = 0, end = 0;
  int base = -1;  // index into Region::bases, or -1 when the data is misaligned (get() copies)
};

}  // namespace

struct SafetensorsFile::Impl {
  std::string path;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> names;
  std::unordered_map<std::string, Entry> entries;
  std::unique_ptr<Region> region;
  const char* buffer = nullptr;  // start of the data buffer inside the mapping

  ~Impl() { release_region(std::move(region)); }

  const Entry& entry(const std::string& name) const {
    auto it = entries.find(name);
    if (it != entries.end()) return it->second;
    std::string avail;
    const size_t kMaxListed = 50;
    for (size_t i = 0; i < names.size() && i < kMaxListed; ++i) avail += (i ? ", " : "") + printable(names[i], 80);
    if (names.size() > kMaxListed) avail += detail::concat(", ... (", names.size() - kMaxListed, " more)");
    throw Error(detail::concat("safetensors '", path, "': no tensor named '", printable(name), "' (available: ",
                               names.empty() ? std::string("none") : avail, ")"));
  }
};

// ---------------------------------------------------------------------------------------------------- writing

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    XF_CHECK(!name.empty(), "save_safetensors '", path, "': empty tensor name");
    XF_CHECK(name != "__metadata__", "save_safetensors '", path, "': '__metadata__' is reserved for metadata");
    XF_CHECK(seen.insert(name).second, "save_safetensors '", path, "': duplicate tensor name '", name, "'");
    XF_CHECK(t.defined(), "save_safetensors '", path, "': tensor '", name, "' is undefined");
  }
  // Largest element size first (stable, so same-size tensors keep the caller's order): with the data buffer
  // starting at a multiple of 8, every tensor then starts at a multiple of its element size.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i : order) {
    const Tensor& t = tensors[i].second;
    nlohmann::ordered_json e;
    e["dtype"] = st_dtype_name(t.dtype());
    e["shape"] = nlohmann::ordered_json::array();
    for (int64_t d : t.shape()) e["shape"].push_back(d);
    e["data_offsets"] = {offset, offset + t.nbytes()};
    offset += t.nbytes();
    header[tensors[i].first] = std::move(e);
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a name or metadata value that is not valid UTF-8
    throw Error(detail::concat("save_safetensors '", path, "': cannot encode header: ", strip_json_prefix(e.what())));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();

  write_file_atomic(path, [&](FileWriter& w) {
    w.write(&n, 8);
    w.write(text.data(), text.size());
    for (size_t i : order) {
      const Tensor& t = tensors[i].second;
      if (t.nbytes() == 0) continue;
      if (t.is_contiguous()) {
        w.write(t.raw_data(), t.nbytes());
      } else {
        const Tensor c = t.contiguous_copy();  // logical (row-major) order
        w.write(c.raw_data(), c.nbytes());
      }
    }
  });
}

// ---------------------------------------------------------------------------------------------------- reading

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& msg) {
  throw Error(detail::concat("safetensors '", path, "': ", msg));
}

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& v, uint64_t buffer_len) {
  const std::string who = "tensor '" + printable(name) + "'";
  if (!v.is_object()) fail(path, who + " entry is not an object");
  Entry e;
  auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) fail(path, who + " has no string \"dtype\"");
  bool known = false;
  if (!parse_dtype(dt->get<std::string>(), &e.dtype, &known))
    fail(path, who + (known ? " has unsupported dtype '" : " has unknown dtype '") + printable(dt->get<std::string>()) +
                   "' (supported: F32, F64, BF16, F16, I32, I64)");

  auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) fail(path, who + " has no \"shape\" array");
  if (sh->size() > static_cast<size_t>(kMaxRank))
    fail(path, detail::concat(who, " has rank ", sh->size(), ", above the maximum rank ", kMaxRank));
  uint64_t numel = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      fail(path, who + " has a shape entry that is not a non-negative integer: " + printable(d.dump()));
    const uint64_t x = d.get<uint64_t>();
    e.shape.push_back(static_cast<int64_t>(x));
    if (__builtin_mul_overflow(numel, x, &numel)) fail(path, who + " has a shape whose element count overflows");
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, dtype_size(e.dtype), &nbytes) || nbytes > static_cast<uint64_t>(INT64_MAX))
    fail(path, who + " has a shape whose byte size overflows");

  auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    fail(path, who + " needs \"data_offsets\": [begin, end] with non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.begin > e.end)
    fail(path, detail::concat(who, " has data_offsets [", e.begin, ", ", e.end, "] with begin > end"));
  if (e.end > buffer_len)
    fail(path, detail::concat(who, " has data_offsets [", e.begin, ", ", e.end, "] beyond the ", buffer_len,
                              "-byte data buffer (file truncated?)"));
  if (e.end - e.begin != nbytes)
    fail(path, detail::concat(who, " has data_offsets [", e.begin, ", ", e.end, "] spanning ", e.end - e.begin,
                              " bytes, but dtype ", st_dtype_name(e.dtype), " x shape ", e.shape.str(), " needs ",
                              nbytes));
  return e;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  sweep_parked();
  auto impl = std::make_shared<SafetensorsFile::Impl>();
  impl->path = path;
  impl->region = std::make_unique<Region>();

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, "not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    fail(path, detail::concat("file is ", size, " bytes, too short for the 8-byte header length"));
  }
  // Copy-on-write: writes to borrowed tensors stay in this process; the file itself is opened read-only.
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (addr == MAP_FAILED) fail(path, std::string("mmap failed: ") + std::strerror(map_errno));
  impl->region->addr = addr;
  impl->region->len = size;
  const char* base = static_cast<const char*>(addr);

  uint64_t n = 0;
  std::memcpy(&n, base, 8);
  if (n > size - 8)
    fail(path, detail::concat("header length ", n, " exceeds the ", size - 8, " bytes after the length field"));
  if (n > kMaxHeaderBytes) fail(path, detail::concat("header length ", n, " exceeds the limit of ", kMaxHeaderBytes));

  // Parse the header, rejecting duplicate top-level names (nlohmann would silently keep one of them).
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(
        base + 8, base + 8 + n,
        [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
          if (ev == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string() &&
              !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
            duplicate = parsed.get<std::string>();
          return true;
        },
        /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const nlohmann::json::exception& e) {
    fail(path, "invalid JSON header: " + printable(strip_json_prefix(e.what())));
  }
  if (!header.is_object()) fail(path, std::string("header is a JSON ") + header.type_name() + ", not an object");
  if (!duplicate.empty()) fail(path, "header lists '" + printable(duplicate) + "' twice");

  const uint64_t buffer_len = size - 8 - n;
  std::vector<std::pair<std::string, const Entry*>> by_offset;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "\"__metadata__\" is not an object");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string()) fail(path, "metadata value for '" + printable(k) + "' is not a string");
        impl->metadata[k] = s.get<std::string>();
      }
      continue;
    }
    auto [it, inserted] = impl->entries.emplace(name, parse_entry(path, name, v, buffer_len));
    by_offset.emplace_back(name, &it->second);
  }
  // Offsets must tile [0, buffer_len) exactly: sorting by (begin, end) puts empty tensors first at their offset.
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
  });
  uint64_t pos = 0;
  std::string prev;
  for (const auto& [name, e] : by_offset) {
    if (e->begin > pos)
      fail(path, detail::concat("tensor '", printable(name), "' starts at byte ", e->begin, " but ",
                                prev.empty() ? std::string("the buffer starts at 0")
                                             : "the previous tensor '" + printable(prev) + "' ends at " +
                                                   std::to_string(pos),
                                " (gap in the data buffer)"));
    if (e->begin < pos)
      fail(path, detail::concat("tensor '", printable(name), "' at [", e->begin, ", ", e->end, ") overlaps tensor '",
                                printable(prev), "' ending at ", pos));
    pos = e->end;
    prev = name;
  }
  if (pos != buffer_len)
    fail(path, detail::concat("tensors cover ", pos, " bytes but the data buffer holds ", buffer_len,
                              " (trailing bytes)"));

  impl->buffer = base + 8 + n;
  for (const auto& [name, e_const] : by_offset) {
    Entry& e = impl->entries.at(name);
    impl->names.push_back(name);
    const char* p = impl->buffer + e.begin;
    if (reinterpret_cast<uintptr_t>(p) % dtype_size(e.dtype) == 0) {
      e.base = static_cast<int>(impl->region->bases.size());
      impl->region->bases.push_back(Tensor::borrow(const_cast<char*>(p), e.shape, e.dtype));
    }
  }
  SafetensorsFile f;
  f.impl_ = std::move(impl);
  return f;
}

const SafetensorsFile::Impl& SafetensorsFile::impl() const {
  XF_CHECK(impl_, "SafetensorsFile: no file loaded (default-constructed; use load_safetensors)");
  return *impl_;
}

const std::string& SafetensorsFile::path() const { return impl().path; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const { return impl().metadata; }
const std::vector<std::string>& SafetensorsFile::names() const { return impl().names; }
bool SafetensorsFile::contains(const std::string& name) const { return impl().entries.count(name) != 0; }

Tensor SafetensorsFile::get(const std::string& name) const {
  const Entry& e = impl().entry(name);
  if (e.base < 0) return copy(name);
  const Tensor& b = impl_->region->bases[static_cast<size_t>(e.base)];
  return b.as_strided(b.shape(), b.strides(), 0);  // a fresh handle: no shared autograd state between get()s
}

Tensor SafetensorsFile::copy(const std::string& name) const {
  const Entry& e = impl().entry(name);
  Tensor t = Tensor::empty(e.shape, e.dtype);
  if (e.end > e.begin) std::memcpy(t.raw_data(), impl_->buffer + e.begin, e.end - e.begin);
  return t;
}

}  // namespace xfmr::io
