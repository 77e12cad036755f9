#include "xfmr/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "xfmr/core/check.h"
#include "xfmr/report/format.h"

namespace xfmr::report {
namespace {

// Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000"};
constexpr size_t kPaletteSize = sizeof kPalette / sizeof kPalette[0];
constexpr const char* kDashes[] = {"", "6 4", "2 3", "8 3 2 3"};
constexpr size_t kMaxMarkers = 60;
constexpr size_t kMaxLegendChars = 28;
constexpr double kCharWidth =
    6.8;  // rough advance of a 12px sans-serif glyph, to size margins without metrics

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return !(lo <= hi); }
};

bool usable(double x, double y, Scale s) {
  return std::isfinite(x) && std::isfinite(y) && (s == Scale::linear || y > 0);
}

bool has_band(const Series& s) {
  return !s.lo.empty();
}

bool has_points(const Series& s, Scale scale) {
  for (size_t i = 0; i < s.y.size(); ++i) {
    if (usable(s.x[i], s.y[i], scale)) return true;
  }
  return false;
}

// Pixel coordinates with 0.01 px resolution: plenty for display, keeps the file small.
std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string tick_label(double v) {
  return format_number(v, 6, /*trim_zeros=*/true);
}

// Heckbert's nice number: a value of the form {1, 2, 5, 10} x 10^e near x (rounded, or the next one up).
double nice_num(double x, bool round) {
  const double e = std::floor(std::log10(x));
  const double f = x / std::pow(10.0, e);
  double nf;
  if (round) {
    nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  } else {
    nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  }
  return nf * std::pow(10.0, e);
}

// Cuts a legend name to kMaxLegendChars bytes without splitting a UTF-8 sequence.
std::string short_name(const std::string& name) {
  if (name.size() <= kMaxLegendChars) return name;
  size_t cut = kMaxLegendChars - 1;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
  return name.substr(0, cut) + "\xE2\x80\xA6";  // U+2026 ellipsis
}

// Maps data coordinates to pixels inside the plot area.
struct Frame {
  double left, right, top, bottom;  // plot area in pixels
  double x0, x1, t0, t1;            // axis ranges; t is y or log10(y)
  Scale scale;
  double sx(double x) const { return left + (x - x0) / (x1 - x0) * (right - left); }
  double sy(double y) const {
    const double t = scale == Scale::log10 ? std::log10(y) : y;
    return bottom - (t - t0) / (t1 - t0) * (bottom - top);
  }
};

void check_series(const Series& s) {
  XF_CHECK(s.x.size() == s.y.size(), "render_svg: series '", s.name, "' has ", s.x.size(), " x values but ",
           s.y.size(), " y values");
  XF_CHECK(s.lo.size() == s.hi.size() && (s.lo.empty() || s.lo.size() == s.y.size()), "render_svg: series '",
           s.name, "' band has ", s.lo.size(), " lo and ", s.hi.size(), " hi values for ", s.y.size(),
           " points");
}

// Appends "<cmd>x y " to a path. (Built by appending: GCC 12 warns falsely on `"M" + std::string` chains.)
void path_point(std::string& d, char cmd, double x, double y) {
  d += cmd;
  d += px(x);
  d += ' ';
  d += px(y);
  d += ' ';
}

// Appends one path subpath per run of consecutive usable points ("M x y L x y ..."), so gaps stay gaps.
// Returns the pixel positions of points that have no neighbour in their run (they need a dot to be visible).
std::string line_path(const Series& s, const Frame& f, std::vector<std::pair<double, double>>& isolated) {
  std::string d;
  size_t run = 0;
  double last_x = 0, last_y = 0;
  for (size_t i = 0; i <= s.y.size(); ++i) {
    const bool ok = i < s.y.size() && usable(s.x[i], s.y[i], f.scale);
    if (!ok) {
      if (run == 1) isolated.emplace_back(last_x, last_y);
      run = 0;
      continue;
    }
    last_x = f.sx(s.x[i]);
    last_y = f.sy(s.y[i]);
    path_point(d, run == 0 ? 'M' : 'L', last_x, last_y);
    ++run;
  }
  if (!d.empty()) d.pop_back();
  return d;
}

// The band as closed polygons, one per run of points where x, lo and hi are all usable: along lo, back along
// hi.
std::string band_path(const Series& s, const Frame& f) {
  std::string d;
  const size_t n = s.y.size();
  size_t i = 0;
  while (i < n) {
    const auto ok = [&](size_t j) {
      return usable(s.x[j], s.lo[j], f.scale) && usable(s.x[j], s.hi[j], f.scale);
    };
    if (!ok(i)) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < n && ok(j)) ++j;
    for (size_t k = i; k < j; ++k) path_point(d, k == i ? 'M' : 'L', f.sx(s.x[k]), f.sy(s.lo[k]));
    for (size_t k = j; k-- > i;) path_point(d, 'L', f.sx(s.x[k]), f.sy(s.hi[k]));
    d += "Z ";
    i = j;
  }
  if (!d.empty()) d.pop_back();
  return d;
}

std::string text(double x, double y, const std::string& body, const char* attrs = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"" + attrs + ">" + xml_escape(body) + "</text>";
}

}  // namespace

const char* series_color(size_t i) {
  return kPalette[i % kPaletteSize];
}

std::vector<double> linear_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  target = std::max(target, 2);
  const double range = nice_num(hi - lo, false);
  // The step as m x 10^e with m in {1, 2, 5}: ticks are computed as (n * m) * 10^e or (n * m) / 10^-e, so
  // each is the double nearest its decimal value (0.6, not 3 * 0.2 = 0.6000000000000001).
  const double raw_step = nice_num(range / (target - 1), true);
  int e = static_cast<int>(std::floor(std::log10(raw_step) + 1e-9));
  double m = std::round(raw_step / std::pow(10.0, e));
  if (m >= 10) {
    m = 1;
    ++e;
  }
  const double scale = std::pow(10.0, std::abs(e));
  const auto value = [&](long long n) { return e >= 0 ? n * m * scale : n * m / scale; };
  const double step = value(1);
  const auto first = static_cast<long long>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<long long>(std::ceil(hi / step - 1e-9));
  std::vector<double> ticks;
  for (long long n = first; n <= last && ticks.size() < 1000; ++n) ticks.push_back(value(n));
  return ticks;
}

std::vector<double> log10_ticks(double lo, double hi) {
  if (!(lo > 0) || !std::isfinite(lo) || !std::isfinite(hi)) return {1, 10};
  if (hi < lo) std::swap(lo, hi);
  const int e0 = static_cast<int>(std::floor(std::log10(lo)));
  const int e1 = static_cast<int>(std::ceil(std::log10(hi)));
  // Candidate 1-2-5 ticks; the axis runs from the largest candidate <= lo to the smallest >= hi.
  const double slack = 1e-12;
  std::vector<double> cand;
  for (int e = e0 - 1; e <= e1; ++e) {
    for (const double m : {1.0, 2.0, 5.0}) cand.push_back(m * std::pow(10.0, e));
  }
  double a = cand.front(), b = cand.back();
  for (const double c : cand) {
    if (c <= lo * (1 + slack)) a = c;
  }
  for (auto it = cand.rbegin(); it != cand.rend(); ++it) {
    if (*it >= hi * (1 - slack)) b = *it;
  }
  if (b <= a) b = a * (a == cand.back() ? 10 : 2);
  if (std::log10(b / a) <= 2 + 1e-9) {
    std::vector<double> ticks;
    for (const double c : cand) {
      if (c >= a * (1 - slack) && c <= b * (1 + slack)) ticks.push_back(c);
    }
    if (ticks.back() < b * (1 - slack)) ticks.push_back(b);
    return ticks;
  }
  // Many decades: the axis still ends at 1-2-5 values (no empty decade at either end); inside, powers of ten,
  // every step-th one so that about 8 are labelled, leaving out those that would crowd an end label.
  const int step = std::max(1, (e1 - e0 + 7) / 8);
  const double la = std::log10(a), lb = std::log10(b);
  std::vector<double> ticks{a};
  for (int e = e0; e <= e1; e += step) {
    const double gap = step == 1 ? 0.25 : 0.5 * step;
    if (e - la >= gap - 1e-9 && lb - e >= gap - 1e-9) ticks.push_back(std::pow(10.0, e));
  }
  ticks.push_back(b);
  return ticks;
}

namespace {

// Axis frame and ticks of one chart, derived from its data.
struct Layout {
  Frame f{};
  std::vector<double> xt, yt;
  bool any_point = false;  // false: nothing to draw, say "no data"
};

Layout layout_chart(const LineChart& c) {
  Layout L;
  // Data ranges over every usable point and band value.
  Range xr, yr;
  for (const Series& s : c.series) {
    for (size_t i = 0; i < s.y.size(); ++i) {
      if (usable(s.x[i], s.y[i], c.y_scale)) {
        xr.add(s.x[i]);
        yr.add(s.y[i]);
        L.any_point = true;
      }
      if (!has_band(s)) continue;
      for (const double b : {s.lo[i], s.hi[i]}) {
        if (usable(s.x[i], b, c.y_scale)) {
          xr.add(s.x[i]);
          yr.add(b);
        }
      }
    }
  }
  if (xr.empty()) xr = {0, 1};
  if (yr.empty()) yr = c.y_scale == Scale::log10 ? Range{1, 10} : Range{0, 1};
  if (c.y_scale == Scale::linear && c.y_include_zero) yr.add(0);

  // Layout: margins sized from the longest tick label and legend entry.
  std::vector<double>& yt = L.yt;
  yt = c.y_scale == Scale::log10 ? log10_ticks(yr.lo, yr.hi) : linear_ticks(yr.lo, yr.hi, c.height / 70 + 1);
  size_t ylabel_chars = 1;
  for (const double t : yt) ylabel_chars = std::max(ylabel_chars, tick_label(t).size());
  size_t legend_chars = 0;
  for (const Series& s : c.series) {
    legend_chars = std::max(legend_chars, short_name(s.name).size() + (has_points(s, c.y_scale) ? 0 : 10));
  }
  const double legend_w = c.series.empty() ? 0 : 44 + kCharWidth * static_cast<double>(legend_chars);
  Frame& f = L.f;
  f.left = (c.y_label.empty() ? 10 : 30) + kCharWidth * static_cast<double>(ylabel_chars) + 8;
  f.right = c.width - 14 - legend_w;
  f.top = c.title.empty() ? 14 : 40;
  f.bottom = c.height - (c.x_label.empty() ? 28 : 48);
  XF_CHECK(f.right - f.left >= 60, "render_svg: chart '", c.title, "' is too narrow (", c.width,
           " px) for its labels and legend");
  std::vector<double>& xt = L.xt;
  xt = linear_ticks(xr.lo, xr.hi, static_cast<int>((f.right - f.left) / 60) + 1);
  f.x0 = xt.front();
  f.x1 = xt.back();
  f.scale = c.y_scale;
  f.t0 = c.y_scale == Scale::log10 ? std::log10(yt.front()) : yt.front();
  f.t1 = c.y_scale == Scale::log10 ? std::log10(yt.back()) : yt.back();
  return L;
}

void draw_axes(std::string& o, const LineChart& c, const Layout& L) {
  const Frame& f = L.f;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(c.width) + "\" height=\"" +
       std::to_string(c.height) + "\" viewBox=\"0 0 " + std::to_string(c.width) + " " +
       std::to_string(c.height) +
       "\" font-family=\"system-ui, 'DejaVu Sans', Arial, sans-serif\" font-size=\"12\" role=\"img\">\n";
  o += "<title>" + xml_escape(c.title.empty() ? "chart" : c.title) + "</title>\n";
  o += "<rect width=\"" + std::to_string(c.width) + "\" height=\"" + std::to_string(c.height) +
       "\" fill=\"#fff\"/>\n";
  if (!c.title.empty()) {
    o += text((f.left + f.right) / 2, 24, c.title,
              " text-anchor=\"middle\" font-size=\"15\" font-weight=\"600\"");
    o += "\n";
  }

  // Grid lines and tick labels.
  o += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">";
  for (const double t : L.xt)
    o += "<line x1=\"" + px(f.sx(t)) + "\" y1=\"" + px(f.top) + "\" x2=\"" + px(f.sx(t)) + "\" y2=\"" +
         px(f.bottom) + "\"/>";
  for (const double t : L.yt)
    o += "<line x1=\"" + px(f.left) + "\" y1=\"" + px(f.sy(t)) + "\" x2=\"" + px(f.right) + "\" y2=\"" +
         px(f.sy(t)) + "\"/>";
  o += "</g>\n<g class=\"ticks\" fill=\"#333\" font-size=\"11\">";
  for (const double t : L.xt) o += text(f.sx(t), f.bottom + 16, tick_label(t), " text-anchor=\"middle\"");
  for (const double t : L.yt) o += text(f.left - 6, f.sy(t) + 4, tick_label(t), " text-anchor=\"end\"");
  o += "</g>\n";
  o += "<rect x=\"" + px(f.left) + "\" y=\"" + px(f.top) + "\" width=\"" + px(f.right - f.left) +
       "\" height=\"" + px(f.bottom - f.top) + "\" fill=\"none\" stroke=\"#888\"/>\n";
  if (!c.x_label.empty()) {
    o += text((f.left + f.right) / 2, c.height - 12, c.x_label, " text-anchor=\"middle\"") + "\n";
  }
  if (!c.y_label.empty()) {
    const double yx = 16, yy = (f.top + f.bottom) / 2;
    o += "<text x=\"" + px(yx) + "\" y=\"" + px(yy) + "\" text-anchor=\"middle\" transform=\"rotate(-90 " +
         px(yx) + " " + px(yy) + ")\">" + xml_escape(c.y_label) + "</text>\n";
  }
}

const char* series_dash(size_t i) {
  return kDashes[(i / kPaletteSize) % (sizeof kDashes / sizeof kDashes[0])];
}

void draw_data(std::string& o, const LineChart& c, const Frame& f) {
  // Reference lines, then all bands (so no band hides another series' line), then lines and markers.
  for (const VLine& v : c.vlines) {
    if (!std::isfinite(v.x) || v.x < f.x0 || v.x > f.x1) continue;
    const std::string x = px(f.sx(v.x));
    o += "<line class=\"vline\" x1=\"" + x + "\" y1=\"" + px(f.top) + "\" x2=\"" + x + "\" y2=\"" +
         px(f.bottom) + "\" stroke=\"#777\" stroke-dasharray=\"4 4\"/>";
    if (!v.label.empty()) o += text(f.sx(v.x) + 4, f.top + 14, v.label, " fill=\"#555\" font-size=\"11\"");
    o += "\n";
  }
  for (size_t i = 0; i < c.series.size(); ++i) {
    if (!has_band(c.series[i])) continue;
    const std::string d = band_path(c.series[i], f);
    if (!d.empty()) {
      o += "<path class=\"band\" d=\"" + d + "\" fill=\"" + series_color(i) + "\" fill-opacity=\"0.16\"/>\n";
    }
  }
  for (size_t i = 0; i < c.series.size(); ++i) {
    const Series& s = c.series[i];
    const char* color = series_color(i);
    const char* dash = series_dash(i);
    std::vector<std::pair<double, double>> isolated;
    const std::string d = line_path(s, f, isolated);
    if (!d.empty()) {
      o += "<path class=\"line\" d=\"" + d + "\" fill=\"none\" stroke=\"" + color +
           "\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
      if (*dash) o += std::string(" stroke-dasharray=\"") + dash + "\"";
      o += "/>\n";
    }
    const bool dots = s.markers && s.y.size() <= kMaxMarkers;
    if (!dots && isolated.empty()) continue;
    o += std::string("<g class=\"markers\" fill=\"") + color + "\">";
    if (dots) {
      for (size_t k = 0; k < s.y.size(); ++k) {
        if (!usable(s.x[k], s.y[k], f.scale)) continue;
        o += "<circle cx=\"" + px(f.sx(s.x[k])) + "\" cy=\"" + px(f.sy(s.y[k])) + "\" r=\"2.8\"/>";
      }
    } else {
      for (const auto& [x, y] : isolated)
        o += "<circle cx=\"" + px(x) + "\" cy=\"" + px(y) + "\" r=\"2.8\"/>";
    }
    o += "</g>\n";
  }
}

void draw_legend(std::string& o, const LineChart& c, const Frame& f) {
  // Legend: swatch (band + line sample) and name per series, right of the plot area.
  if (!c.series.empty()) {
    o += "<g class=\"legend\">";
    const double lx = f.right + 14;
    for (size_t i = 0; i < c.series.size(); ++i) {
      const Series& s = c.series[i];
      const double ly = f.top + 10 + 20 * static_cast<double>(i);
      const char* color = series_color(i);
      const char* dash = series_dash(i);
      if (has_band(s)) {
        o += "<rect x=\"" + px(lx) + "\" y=\"" + px(ly - 6) + "\" width=\"22\" height=\"12\" fill=\"" +
             color + "\" fill-opacity=\"0.16\"/>";
      }
      o += "<line x1=\"" + px(lx) + "\" y1=\"" + px(ly) + "\" x2=\"" + px(lx + 22) + "\" y2=\"" + px(ly) +
           "\" stroke=\"" + color + "\" stroke-width=\"2\"";
      if (*dash) o += std::string(" stroke-dasharray=\"") + dash + "\"";
      o += "/>";
      o += text(lx + 28, ly + 4, short_name(s.name) + (has_points(s, c.y_scale) ? "" : " (no data)"),
                " fill=\"#222\"");
    }
    o += "</g>\n";
  }
}

}  // namespace

std::string render_svg(const LineChart& c) {
  XF_CHECK(c.width >= 200 && c.height >= 150, "render_svg: chart '", c.title, "' is ", c.width, "x", c.height,
           " pixels; need at least 200x150");
  for (const Series& s : c.series) check_series(s);
  const Layout L = layout_chart(c);
  const Frame& f = L.f;
  std::string o;
  o.reserve(16384);
  draw_axes(o, c, L);
  draw_data(o, c, f);
  if (!L.any_point) {
    o += text((f.left + f.right) / 2, (f.top + f.bottom) / 2, "no data",
              " text-anchor=\"middle\" fill=\"#999\" font-size=\"14\"") +
         "\n";
  }

  draw_legend(o, c, f);
  o += "</svg>";
  return o;
}

}  // namespace xfmr::report
