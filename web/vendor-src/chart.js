// Entry point for the Chart.js bundle: an ES module for the admin console's Reports page (see package.json
// "bundle"), with every chart type, scale and plugin registered.
import { Chart, registerables } from 'chart.js';

Chart.register(...registerables);

export { Chart };
