// Package web serves the journey map: for each journey of the journey map,
// its stages as columns and its personas as swimlanes, each cell showing how
// many customers reached the stage, how many went on to a later one, the
// drop-off and the median time to convert, coloured by health, with the
// touchpoints of the stage inside it; beside each persona, its churn-risk
// counts, and a page listing its at-risk customers with the factors behind
// each score.
//
// Contract:
//   - Every number is read from ClickHouse when the page is requested (no
//     cache), through the Source interface, whose implementation
//     (aggregate.Store) binds every value as a query parameter. Query
//     parameters and path values are validated here first: an invalid one is
//     answered with 400 (404 for an unknown journey) and no query runs.
//   - Pages are rendered on the server with html/template; the stylesheet is
//     embedded. There is no JavaScript, so the Content-Security-Policy allows
//     nothing but the page's own origin.
//   - A failing ClickHouse query answers 503 with a page that says so; the
//     error itself goes to the log, not to the browser. A database without
//     churn scoring (no churn_current) is not an error: the churn panel says
//     "churn scoring not available" and the rest of the page works.
package web
