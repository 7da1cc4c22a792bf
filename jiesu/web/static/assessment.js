(function () {
  var charts = JSON.parse(document.getElementById("chart-data").textContent);
  Object.keys(charts).forEach(function (id) {
    var fig = charts[id];
    Plotly.newPlot(id, fig.data, fig.layout, {displaylogo: false, responsive: true,
                                              modeBarButtonsToRemove: ["sendDataToCloud"]});
  });
})();
