"""Native bar charts for the report's charted figures, readable without recalculation.

Each chart has the figure number and short title (at most two lines) and,
under it, the base ("Base: 59 cases"). Bars run horizontally when labels are
long. Every series carries cached values and category labels in the chart's
XML, so a viewer that does not recalculate (a mail preview, a file browser)
still draws the bars. All text is in the workbook's one font family.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl.chart import BarChart
from openpyxl.chart.error_bar import ErrorBars
from openpyxl.chart.data_source import AxDataSource, NumData, NumDataSource, NumRef, NumVal, StrData, StrRef, StrVal
from openpyxl.chart.label import DataLabelList
from openpyxl.chart.layout import Layout, ManualLayout
from openpyxl.chart.series import Series, SeriesLabel
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.chart.text import RichText, Text
from openpyxl.chart.title import Title
from openpyxl.drawing.line import LineProperties
from openpyxl.drawing.text import CharacterProperties, Font, Paragraph, ParagraphProperties, RegularTextRun
from openpyxl.utils import get_column_letter, quote_sheetname

from audit.writers.sheets import FONT_NAME, PERCENT_FORMAT

#: category labels longer than this turn the bars horizontal
LONG_LABEL = 18
SERIES_COLOURS = ("2F5597", "9DC3E6", "548235", "C55A11")
LABEL_ON = {"2F5597": "FFFFFF", "548235": "FFFFFF", "C55A11": "FFFFFF"}  # a value label inside a dark bar is white


@dataclass(frozen=True)
class ChartSeries:
    name: str
    column: int  # the sheet column holding the values
    values: tuple[float | None, ...]
    # error bars (a percentage's interval): the columns and amounts below and above each value
    minus_column: int | None = None
    plus_column: int | None = None
    minus: tuple[float | None, ...] = ()
    plus: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class ChartData:
    """Where a chart's numbers sit on its sheet, and the numbers themselves (for the cache)."""

    sheet: str
    title: tuple[str, ...]
    base: str  # "Base: 59 cases"
    label_column: int
    first_row: int
    labels: tuple[str, ...]
    series: tuple[ChartSeries, ...]
    percent: bool  # values are fractions shown as percentages (else counts)

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.labels) - 1

    def ref(self, column: int) -> str:
        letter = get_column_letter(column)
        return f"{quote_sheetname(self.sheet)}!${letter}${self.first_row}:${letter}${self.last_row}"

    @property
    def horizontal(self) -> bool:
        return max(len(label) for label in self.labels) > LONG_LABEL


class IntervalBars(ErrorBars):
    """Custom error bars, their elements in the schema's order (plus before minus; openpyxl writes minus first)."""

    tagname = "errBars"
    __attrs__ = ErrorBars.__attrs__  # the metaclass reads descriptors from this class's own body: keep the parent's
    __nested__ = ErrorBars.__nested__
    __elements__ = ("errDir", "errBarType", "errValType", "noEndCap", "plus", "minus", "val", "spPr")


def _amounts(data: ChartData, column: int, amounts: tuple[float | None, ...]) -> NumDataSource:
    points = [NumVal(idx=i, v=v) for i, v in enumerate(amounts) if v is not None]
    return NumDataSource(numRef=NumRef(f=data.ref(column), numCache=NumData(formatCode="0.0%", ptCount=len(amounts), pt=points)))


def _interval_bars(data: ChartData, item: ChartSeries) -> IntervalBars:
    return IntervalBars(errBarType="both", errValType="cust", noEndCap=False,
                        plus=_amounts(data, item.plus_column, item.plus), minus=_amounts(data, item.minus_column, item.minus),
                        spPr=GraphicalProperties(ln=LineProperties(solidFill="404040", w=12700)))


def _characters(size: float, bold: bool = False, colour: str | None = None) -> CharacterProperties:
    props = CharacterProperties(latin=Font(typeface=FONT_NAME), sz=int(size * 100), b=bold)
    if colour:
        props.solidFill = colour
    return props


def _text(size: float, bold: bool = False, colour: str | None = None) -> RichText:
    props = _characters(size, bold, colour)
    return RichText(p=[Paragraph(pPr=ParagraphProperties(defRPr=props), endParaRPr=props)])


def _title(lines: tuple[str, ...], base: str) -> Title:
    paragraphs = [
        Paragraph(pPr=ParagraphProperties(defRPr=_characters(12, True)), r=[RegularTextRun(rPr=_characters(12, True), t=line)])
        for line in lines
    ]
    paragraphs.append(Paragraph(pPr=ParagraphProperties(defRPr=_characters(10)), r=[RegularTextRun(rPr=_characters(10), t=base)]))
    return Title(tx=Text(rich=RichText(p=paragraphs)), overlay=False)


def _series(data: ChartData, index: int, item: ChartSeries) -> Series:
    fmt = PERCENT_FORMAT if data.percent else "#,##0"
    points = [NumVal(idx=i, v=v) for i, v in enumerate(item.values) if v is not None]
    values = NumDataSource(numRef=NumRef(f=data.ref(item.column), numCache=NumData(formatCode=fmt, ptCount=len(item.values), pt=points)))
    labels = StrData(ptCount=len(data.labels), pt=[StrVal(idx=i, v=label) for i, label in enumerate(data.labels)])
    series = Series(idx=index, order=index, val=values,
                    cat=AxDataSource(strRef=StrRef(f=data.ref(data.label_column), strCache=labels)),
                    tx=SeriesLabel(v=item.name) if item.name else None)
    colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
    series.graphicalProperties = GraphicalProperties(solidFill=colour, ln=LineProperties(solidFill=colour))
    if item.plus_column is not None and item.minus_column is not None:
        series.errBars = _interval_bars(data, item)
        # the value inside the end of its bar, clear of the interval's line (white on a dark bar)
        series.dLbls = DataLabelList(showVal=True, showCatName=False, showSerName=False, showLegendKey=False,
                                     showPercent=False, numFmt=fmt, txPr=_text(9, colour=LABEL_ON.get(colour)))
        series.dLbls.position = "inEnd"
    return series


def bar_chart(data: ChartData) -> BarChart:
    chart = BarChart()
    chart.type = "bar" if data.horizontal else "col"
    chart.grouping = "clustered"
    chart.gapWidth = 60
    chart.title = _title(data.title, data.base)
    for index, item in enumerate(data.series):
        chart.series.append(_series(data, index, item))
    chart.dataLabels = DataLabelList(showVal=True, showCatName=False, showSerName=False, showLegendKey=False,
                                     showPercent=False, numFmt=PERCENT_FORMAT if data.percent else "#,##0", txPr=_text(9))
    chart.dataLabels.position = "outEnd"
    values, categories = chart.y_axis, chart.x_axis
    values.number_format = PERCENT_FORMAT if data.percent else "#,##0"
    values.scaling.min = 0
    if data.percent:
        values.scaling.max = 1
        values.majorUnit = 0.2 if data.horizontal else 0.25
    values.majorGridlines.spPr = GraphicalProperties(ln=LineProperties(solidFill="D9D9D9"))
    values.delete = categories.delete = False
    values.txPr = _text(9)
    categories.txPr = _text(10)
    if data.horizontal:  # read top to bottom in the table's order, values along the bottom
        categories.scaling.orientation = "maxMin"
        values.crosses = "max"
    if len(data.series) > 1:
        chart.legend.position = "b"
        chart.legend.txPr = _text(9)
    else:
        chart.legend = None
    # leave the title its own band at the top, the plot the rest
    chart.plot_area.layout = Layout(manualLayout=ManualLayout(
        layoutTarget="inner", xMode="edge", yMode="edge", x=0.32 if data.horizontal else 0.1, y=0.24,
        w=0.6 if data.horizontal else 0.86, h=0.62 if len(data.series) == 1 else 0.55))
    chart.width = 17
    chart.height = max(8.5, 3.5 + 1.0 * len(data.labels) * len(data.series)) if data.horizontal else 9
    return chart
