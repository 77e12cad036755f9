// A small, dependency-free SVG line-chart writer for run reports: several named series, optional shaded bands
// (e.g. confidence intervals), linear or log-10 y axis with "nice" tick values, title, axis labels, legend.
// The output is one standalone <svg> element (with width/height/viewBox and xmlns), valid both as an .svg
// file and inline in HTML. It uses no ids, scripts or external resources, so many charts can share one page.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace xfmr::report {

enum class Scale { linear, log10 };

// One line. x and y have the same length. lo and hi are either both empty (no band) or both as long as y.
// Points whose x or y is NaN/inf (or y <= 0 on a log axis) are skipped, and the line breaks there rather than
// bridging the gap; band points are skipped the same way when x, lo or hi is unusable.
struct Series {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> lo, hi;
  bool markers = true;  // dots at the data points (drawn only when the series has at most 60 points)
};

// A dashed vertical reference line, e.g. at k = d where least squares becomes exact.
struct VLine {
  double x = 0;
  std::string label;
};

struct LineChart {
  std::string title, x_label, y_label;
  Scale y_scale = Scale::linear;
  bool y_include_zero = false;    // linear axis only: stretch the range to contain 0 (errors, losses)
  int width = 720, height = 420;  // pixels; the legend sits inside this box on the right
  std::vector<Series> series;
  std::vector<VLine> vlines;
};

// Renders the chart. Throws xfmr::Error when a series' x/y/lo/hi lengths disagree or the size is too small.
// A chart with no usable points still renders (axes over [0, 1] and a "no data" note).
std::string render_svg(const LineChart& chart);

// Tick values for a linear axis over [lo, hi]: about `target` multiples of 1, 2 or 5 times a power of ten,
// whose first value is <= lo and last >= hi (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990).
std::vector<double> linear_ticks(double lo, double hi, int target = 6);

// Tick values for a log-10 axis over [lo, hi] (0 < lo <= hi). The first tick is <= lo and the last >= hi.
// Up to two decades: every 1, 2, 5 x 10^e; more: powers of ten only, every n-th decade when there are many.
std::vector<double> log10_ticks(double lo, double hi);

// Colour of the i-th series: the Okabe-Ito colour-blind-safe palette (yellow left out: unreadable on white),
// cycling after 7; from the 8th series on lines are also dashed so series stay distinguishable.
const char* series_color(size_t i);

}  // namespace xfmr::report
