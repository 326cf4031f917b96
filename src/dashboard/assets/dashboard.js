// Follows a deployment's log (the API's Server-Sent Events, through the dashboard) into #log.
(function () {
  'use strict';
  var log = document.getElementById('log');
  if (!log || !log.dataset.stream) return;
  var end = document.getElementById('log-end');
  var source = new EventSource(log.dataset.stream);
  function append(text, cls) {
    var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    var span = document.createElement('span');
    if (cls) span.className = cls;
    span.textContent = text + '\n';
    log.appendChild(span);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }
  source.addEventListener('header', function (e) {
    append('== ' + JSON.parse(e.data).header, 'header');
  });
  source.addEventListener('line', function (e) {
    append(JSON.parse(e.data).line.replace(/\n$/, ''));
  });
  source.addEventListener('end', function (e) {
    var info = JSON.parse(e.data);
    source.close();
    end.textContent = 'The deployment ended: ' + info.status + (info.message ? ' (' + info.message + ')' : '') + '.';
    log.dataset.ended = info.status;
    // The steps table stops refreshing once it shows the end: ask for it once more.
    var steps = document.getElementById('steps');
    if (steps && window.htmx) window.htmx.ajax('GET', location.pathname, { target: '#steps', select: '#steps', swap: 'outerHTML' });
  });
  source.addEventListener('error', function () {
    if (source.readyState === EventSource.CLOSED) end.textContent = 'The log stream closed; reload the page to resume.';
  });
})();
