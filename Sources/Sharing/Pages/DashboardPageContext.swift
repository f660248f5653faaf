import Charts

/// What `dashboard.mustache` reads for a shared dashboard or an embed: plain dictionaries and
/// arrays of text, with the charts already drawn as SVG.
///
/// Every key a section's template reads is present in that section's dictionary, and optional
/// parts are arrays of zero or one items (see `PageRenderer.optional`): a missing key would
/// make Mustache look the name up in the enclosing objects instead.
struct DashboardPageContext {
    let model: DashboardPageModel
    /// The model's theme with its colours checked.
    let theme: PageTheme

    var values: [String: Any] {
        let cells = PageGrid.cells(model.widgets, layout: model.layout, hasFilters: !model.filters.isEmpty)
        let embed = model.layout != .dashboard
        let layoutClass = !embed ? "layout-dashboard" : cells.count == 1 ? "layout-embed embed-single" : "layout-embed"
        return [
            "bodyClass": "\(model.theme.bodyClass) \(layoutClass)",
            "header": !embed,
            // An embed of one widget has the widget's title only; of several, a small title too.
            "embedTitle": embed && cells.count > 1,
            "note": PageRenderer.optional(embed ? nil : model.note),
            "filterForm": model.filters.isEmpty ? [] : [filterForm],
            "editForm": model.editAction.flatMap(PageAttributes.url).map { [editForm($0)] } ?? [],
            "widgets": cells.map(widget),
            "empty": cells.isEmpty,
        ]
    }

    var filterForm: [String: Any] {
        [
            "formAction": PageAttributes.url(model.formAction) ?? "",
            "hiddenFields": model.hiddenFields.map { ["name": $0.name, "value": $0.value] },
            "filters": model.filters.enumerated().map { index, filter in filterField(filter, id: "filter-\(index)") },
        ]
    }

    /// Renaming the dashboard and its widgets; the filter values in force go along, kept as
    /// the dashboard's own when the box is ticked.
    func editForm(_ action: String) -> [String: Any] {
        [
            "editAction": action,
            "dashboardTitle": model.title,
            "titles": model.widgets.enumerated().map { index, widget in
                ["fieldID": "edit-widget-\(index)", "fieldName": "widget.\(widget.id)", "widgetTitle": widget.title]
            },
            "filterValues": model.filters.map { ["name": $0.name, "value": $0.value] },
            "hasFilterValues": !model.filters.isEmpty,
        ]
    }

    func filterField(_ filter: PageFilter, id: String) -> [String: Any] {
        // The value in force is always one of the options, even when the list lacks it.
        var options = filter.choices
        if !filter.choices.isEmpty, !options.contains(filter.value) { options.insert(filter.value, at: 0) }
        return [
            "id": id,
            "name": filter.name,
            "label": filter.label,
            "value": filter.value,
            "hasChoices": !filter.choices.isEmpty,
            "choices": options.map { option -> [String: Any] in
                ["value": option, "text": option.isEmpty ? "(any)" : option, "selected": option == filter.value]
            },
            "problem": PageRenderer.optional(filter.problem),
        ]
    }

    func widget(_ cell: PageGrid.Cell) -> [String: Any] {
        let widget = cell.widget
        // The page shows the title as the widget's heading; drawn in the chart too it would be
        // there twice. The chart's accessible name then comes from its description.
        let svg: String? = widget.chart.map { chart in
            var chart = chart
            chart.title = ""
            return SVGRenderer.render(chart, theme: theme.chart, width: cell.chartWidth, height: cell.chartHeight, colours: .resolved)
        }
        let error = widget.error ?? (svg == nil ? "This widget could not be read." : nil)
        let downloads = widget.downloads.compactMap { link in
            PageAttributes.url(link.href).map { ["label": link.label, "href": $0] }
        }
        return [
            "id": widget.id,
            "title": widget.title,
            "type": PageAttributes.classWord(widget.type),
            "column": cell.column + 1,
            "span": cell.span,
            "rows": cell.rows,
            "hasChart": svg != nil,
            "svg": svg ?? "",
            "error": PageRenderer.optional(svg == nil ? error : nil),
            "hasDownloads": !downloads.isEmpty,
            "downloads": downloads,
        ]
    }
}
