"""The single page of ``vsgrpo data browse`` (HTML, CSS and JavaScript; no external resources).

What the page does with the server's JSON (:mod:`vsgrpo.browse`):

- the scene list, narrowed by the filters (question type, each run's right/wrong, runs that
  disagree or are split) using ``/api/scenes``' ``index`` of every question;
- per scene the contact sheet, the video and the floor plan (``/floorplan.svg``, inlined so the
  page can mark boxes and lay out labels), and the questions with every run's raw answer, parsed
  value and score beside the ground truth;
- the URL names the state: ``#dataset=D&scene=S&q=ID`` plus the filters (``type``, ``agree``,
  ``run0``...). Opening such a URL opens that scene and question; choosing a scene or a question
  adds a history entry, changing a filter replaces the current one;
- choosing a question marks the boxes it names (``marks``) in red, and labels are laid out again
  with those first: a label that would overlap one already placed (or leave the plan) is moved to
  a free spot next to its box or hidden (every box keeps its hover title).
"""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vsgrpo data browse</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:flex;height:100vh;color:#222}
#side{width:250px;flex:none;overflow:auto;border-right:1px solid #ddd;padding:8px;box-sizing:border-box;background:#f7f7f9}
#side h1{font-size:15px;margin:4px 0 8px} #side .meta{font-size:11px;color:#666;word-break:break-all}
#side label{display:block;font-size:12px;margin:6px 0 0} #side select{width:100%;font-size:12px}
#scene-count{font-size:11px;color:#666;margin-top:8px}
#scenes{list-style:none;padding:0;margin:4px 0} #scenes li{padding:4px 6px;cursor:pointer;border-radius:4px;font-size:13px}
#scenes li:hover{background:#e8ecf4} #scenes li.active{background:#cfd9ee} #scenes .n{float:right;color:#666;font-size:11px}
#main{flex:1;display:flex;flex-direction:column;min-width:0;padding:8px 14px;box-sizing:border-box}
#title{font-size:17px;margin:2px 0 6px}
#notices:empty{display:none} #notices{background:#fff6d6;border:1px solid #e8d48a;font-size:12px;padding:4px 8px;margin-bottom:6px}
#media{display:flex;gap:12px;align-items:flex-start;flex:none}
#plan svg{display:block;border:1px solid #ccc;width:380px;height:380px}
#plan-note{font-size:12px;color:#555;max-width:380px;margin-top:2px}
#media .side{display:flex;flex-direction:column;gap:8px;min-width:0}
#media img,#media video{height:185px;max-width:100%;border:1px solid #ccc;object-fit:contain;background:#fafafa}
#bar{display:flex;gap:10px;align-items:center;margin:6px 0 2px;flex:none} #status{color:#666;font-size:12px}
#table-box{flex:1;overflow:auto;min-height:120px}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th{position:sticky;top:0;background:#fff;z-index:1;box-shadow:0 1px 0 #ccc}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top}
tbody tr{cursor:pointer} tbody tr:hover td{background:#f3f6fb}
tr.selected td{background:#e6edfa!important;box-shadow:inset 0 2px 0 #4a6fb5,inset 0 -2px 0 #4a6fb5}
tr.flagged td{text-decoration:line-through;color:#933} tr.flagged td.act{text-decoration:none}
td.run{min-width:140px;max-width:260px} td.run .pred{white-space:pre-wrap;max-height:5.5em;overflow:auto;font-family:ui-monospace,monospace;font-size:11.5px}
td.run .parsed{font-size:11.5px;color:#444;margin-top:2px}
td.run.right{background:#e3f5e1} td.run.wrong{background:#fbe4e1} td.run.none{background:#f1f1f1;color:#777}
.opts{color:#555;font-size:12px} .gt{font-weight:600} button.flag{cursor:pointer;font-size:11px}
.badge{display:inline-block;font-size:10px;background:#6b4fa0;color:#fff;border-radius:3px;padding:0 3px;margin-left:3px}
a.qlink{color:#234;text-decoration:none;font-weight:600}
svg .box.named{fill:rgba(228,87,46,.8);stroke:#7a1500;stroke-width:2}
svg.has-q .box:not(.named){opacity:.45}
svg text.label{paint-order:stroke;stroke:#fff;stroke-width:2.5px;stroke-linejoin:round;pointer-events:none}
svg text.label.named{fill:#8a1800;font-weight:700}
</style></head><body>
<div id="side"><h1>vsgrpo data browse</h1><div class="meta" id="rootinfo"></div>
<label>question type <select id="type-filter"><option value="">all</option></select></label>
<div id="run-filters"></div>
<div id="scene-count"></div>
<ul id="scenes"></ul></div>
<div id="main"><div id="title">choose a scene</div>
<div id="notices"></div>
<div id="media"></div>
<div id="bar"><span id="count"></span><span id="status"></span></div>
<div id="table-box"><table id="questions"><thead></thead><tbody></tbody></table></div></div>
<script>
let info=null, current=null, applying=0;
const state={dataset:'', scene:'', q:null};
const $=s=>document.querySelector(s);
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
async function getJSON(u,o){const r=await fetch(u,o);const j=await r.json();if(!r.ok)throw new Error(j.error||r.status);return j;}
function sceneKey(ds,name){return ds+'/'+name;}

// ---- filters: the same test for the scene list (index entries) and the question rows
function filters(){
  return {type:$('#type-filter').value, agree:($('#agree-filter')||{}).value||'',
          runs:[...document.querySelectorAll('select.run-filter')].map(s=>s.value)};
}
function filtering(f){return !!(f.type||f.agree||f.runs.some(Boolean));}
function passes(e,f){
  if(f.type&&(e.type||e.question_type)!==f.type)return false;
  if(f.agree==='disagree'&&!e.disagree)return false;
  if(f.agree==='split'&&!e.split)return false;
  for(let i=0;i<f.runs.length;i++)if(f.runs[i]&&e.verdicts[i]!==f.runs[i])return false;
  return true;
}

// ---- the URL: #dataset=..&scene=..&q=..&type=..&agree=..&run0=..
function hashFor(over){
  const p=new URLSearchParams(), f=filters();
  const ds='dataset' in over?over.dataset:state.dataset, sc='scene' in over?over.scene:state.scene;
  const q='q' in over?over.q:state.q;
  if(ds)p.set('dataset',ds); if(sc)p.set('scene',sc); if(q!==null&&q!==undefined)p.set('q',q);
  if(f.type)p.set('type',f.type); if(f.agree)p.set('agree',f.agree);
  f.runs.forEach((v,i)=>{if(v)p.set('run'+i,v);});
  return '#'+p.toString();
}
function go(over){  // a new history entry; the hashchange listener applies it
  const h=hashFor(over);
  if(h===location.hash)applyHash(); else location.hash=h;
}
function setSelect(sel,value){if(sel&&[...sel.options].some(o=>o.value===value))sel.value=value;}
async function applyHash(){
  const mine=++applying;
  const p=new URLSearchParams(location.hash.slice(1));
  setSelect($('#type-filter'),p.get('type')||'');
  setSelect($('#agree-filter'),p.get('agree')||'');
  document.querySelectorAll('select.run-filter').forEach((s,i)=>setSelect(s,p.get('run'+i)||''));
  let ds=p.get('dataset')||'', sc=p.get('scene')||'', q=p.has('q')?Number(p.get('q')):null;
  if(q!==null){const e=info.index.find(x=>x.id===q); if(e){ds=e.dataset;sc=e.scene_name;} else {q=null;$('#status').textContent='no question '+p.get('q');}}
  if(!info.scenes.some(s=>s.dataset===ds&&s.scene_name===sc)){
    if(sc)$('#status').textContent='no scene '+sceneKey(ds,sc);
    const first=visibleScenes()[0]||info.scenes[0]; ds=first?first.dataset:''; sc=first?first.scene_name:'';
  }
  state.q=q;
  if(sc&&(!current||current.dataset!==ds||current.scene_name!==sc)){
    const scene=await loadScene(ds,sc);
    if(mine!==applying)return;  // a newer URL arrived meanwhile
    current=scene;
  }
  state.dataset=ds; state.scene=sc;
  renderScenes(); renderQuestions(); markPlan();
  const row=state.q!==null&&document.querySelector('#questions tbody tr[data-id="'+state.q+'"]');
  if(row)row.scrollIntoView({block:'center'});
}
function filtersChanged(){history.replaceState(null,'',hashFor({}));renderScenes();renderQuestions();}

// ---- data
async function loadInfo(){
  info=await getJSON('/api/scenes');
  $('#rootinfo').textContent='root: '+info.root+' | questions: '+(info.questions_file||'none (pass --questions)')+' | flags: '+info.flags_file;
  const sel=$('#type-filter');
  if(sel.options.length===1)for(const t of info.question_types){const o=document.createElement('option');o.value=t;o.textContent=t;sel.appendChild(o);}
  const box=$('#run-filters');
  if(!box.childElementCount&&info.runs.length){
    let h='';
    info.runs.forEach((r,i)=>{h+='<label title="'+esc(r.path+(r.model?' | model '+r.model:''))+'">run '+esc(r.name)+
      ' <select class="run-filter" data-i="'+i+'"><option value="">any</option><option value="right">right</option>'+
      '<option value="wrong">wrong</option><option value="none">no answer</option></select></label>';});
    if(info.runs.length>1)h+='<label>between runs <select id="agree-filter"><option value="">all questions</option>'+
      '<option value="disagree">answers differ</option><option value="split">one right, another wrong</option></select></label>';
    box.innerHTML=h;
    box.querySelectorAll('select').forEach(s=>s.onchange=filtersChanged);
  }
  $('#notices').innerHTML=info.notices.map(n=>'<div>'+esc(n)+'</div>').join('');
}
async function loadScene(ds,name){
  const q='dataset='+encodeURIComponent(ds)+'&scene='+encodeURIComponent(name);
  const [scene,svg]=await Promise.all([getJSON('/api/scene?'+q),fetch('/floorplan.svg?'+q).then(r=>r.text())]);
  const s=info.scenes.find(x=>x.dataset===ds&&x.scene_name===name);
  const m=encodeURIComponent(ds)+'/'+encodeURIComponent(name);
  $('#title').textContent=ds+' / '+name+' ('+scene.room_size.toFixed(1)+' m\\u00b2, '+scene.objects.length+' objects)';
  let h='<div><div id="plan">'+svg+'</div><div id="plan-note"></div></div><div class="side">';
  if(s&&s.preview)h+='<img class="sheet" alt="contact sheet" src="/media/previews/'+m+'.png">';
  if(s&&s.video)h+='<video controls muted src="/media/videos/'+m+'.mp4"></video>';
  $('#media').innerHTML=h+'</div>';
  return scene;
}
function visibleScenes(){
  const f=filters(), on=filtering(f), counts=new Map();
  for(const e of info.index)if(passes(e,f)){const k=sceneKey(e.dataset,e.scene_name);counts.set(k,(counts.get(k)||0)+1);}
  return info.scenes.map(s=>({...s,shown:on?(counts.get(sceneKey(s.dataset,s.scene_name))||0):s.questions}))
                    .filter(s=>!on||s.shown>0);
}

// ---- rendering
function renderScenes(){
  const ul=$('#scenes'), vis=visibleScenes();
  ul.innerHTML='';
  for(const s of vis){
    const li=document.createElement('li');li.dataset.key=sceneKey(s.dataset,s.scene_name);
    li.innerHTML=esc(s.scene_name)+'<span class="n">'+s.shown+' q'+(s.flagged?' / '+s.flagged+' flagged':'')+'</span>';
    li.onclick=()=>go({dataset:s.dataset,scene:s.scene_name,q:null});
    if(li.dataset.key===sceneKey(state.dataset,state.scene))li.classList.add('active');
    ul.appendChild(li);
  }
  $('#scene-count').textContent=vis.length+' of '+info.scenes.length+' scenes';
}
function runCell(r){
  if(!r)return '<td class="run none">not answered</td>';
  const text=r.error?'error: '+r.error:(r.prediction===null||r.prediction===undefined?'':r.prediction);
  const parsed=r.parsed===null||r.parsed===undefined?'\\u2014':r.parsed;
  const score=r.score===null?'\\u2014':(100*r.score).toFixed(1);
  return '<td class="run '+r.verdict+'"><div class="pred">'+esc(text)+'</div><div class="parsed">parsed <b>'+
         esc(parsed)+'</b> \\u00b7 score <b>'+score+'</b></div></td>';
}
function renderQuestions(){
  const tb=$('#questions tbody');tb.innerHTML='';
  $('#questions thead').innerHTML='<tr><th>id</th><th>type</th><th>question</th><th>ground truth</th>'+
    info.runs.map(r=>'<th class="runhead" title="'+esc(r.path)+'">'+esc(r.name)+'</th>').join('')+'<th></th></tr>';
  if(!current)return;
  const f=filters();
  const rows=current.questions.filter(q=>passes(q,f)||q.id===state.q);  // the chosen question stays in view
  for(const q of rows){
    const tr=document.createElement('tr');tr.dataset.id=q.id;tr.dataset.type=q.question_type;
    if(q.flagged)tr.classList.add('flagged');
    if(q.id===state.q)tr.classList.add('selected');
    const opts=(q.options||[]).map(esc).join('<br>');
    tr.innerHTML='<td><a class="qlink" href="'+esc(hashFor({q:q.id}))+'">'+q.id+'</a>'+
      (q.disagree?'<span class="badge" title="the runs answer differently">\\u2260</span>':'')+'</td><td>'+
      esc(q.question_type)+'</td><td>'+esc(q.question).replace(/\\n/g,'<br>')+
      (opts?'<div class="opts">'+opts+'</div>':'')+'</td><td class="gt">'+esc(q.ground_truth)+
      (q.answer_text!==String(q.ground_truth)?' ('+esc(q.answer_text)+')':'')+'</td>'+
      q.runs.map(runCell).join('')+
      '<td class="act"><button class="flag" data-id="'+q.id+'">'+(q.flagged?'unflag':'flag as wrong')+'</button></td>';
    tb.appendChild(tr);
  }
  $('#count').textContent=rows.length+' of '+current.questions.length+' question(s) in this scene';
}
function markPlan(){
  const svg=$('#plan svg');if(!svg||!current)return;
  const q=current.questions.find(x=>x.id===state.q);
  const marks=new Set(q?q.marks:[]);
  svg.classList.toggle('has-q',!!q);
  svg.querySelectorAll('.box,text.label').forEach(e=>e.classList.toggle('named',marks.has(Number(e.dataset.k))));
  const names=[...new Set(current.objects.filter(o=>marks.has(o.k)).map(o=>o.name))];
  $('#plan-note').textContent=!q?'choose a question to mark the objects it names':
    names.length?'question '+q.id+' names: '+names.join(', ')+' (red)':'question '+q.id+' names no object';
  layoutLabels(svg,marks);
}
function layoutLabels(svg,first){
  // Greedy: the chosen question's labels first, each at its box's centre or the first free spot
  // around it; a label with no free spot is hidden (its box keeps the hover title).
  const W=Number(svg.getAttribute('width')),H=Number(svg.getAttribute('height'));
  const labels=[...svg.querySelectorAll('text.label')];
  labels.sort((a,b)=>first.has(Number(b.dataset.k))-first.has(Number(a.dataset.k)));
  const placed=[];
  for(const t of labels){
    if(t.dataset.x===undefined){t.dataset.x=t.getAttribute('x');t.dataset.y=t.getAttribute('y');}
    const x0=Number(t.dataset.x),y0=Number(t.dataset.y);
    t.setAttribute('x',x0);t.setAttribute('y',y0);t.style.display='';
    const b=t.getBBox(),w=b.width,h=b.height;
    const tries=[[0,0],[0,-h],[0,h],[w*.6,0],[-w*.6,0],[0,-2*h],[0,2*h],[w*.6,-h],[-w*.6,-h],[w*.6,h],[-w*.6,h]];
    let ok=false;
    for(const [dx,dy] of tries){
      const r={x:b.x+dx-1,y:b.y+dy-1,w:w+2,h:h+2};
      if(r.x<0||r.y<0||r.x+r.w>W||r.y+r.h>H)continue;
      if(placed.some(p=>r.x<p.x+p.w&&p.x<r.x+r.w&&r.y<p.y+p.h&&p.y<r.y+r.h))continue;
      t.setAttribute('x',x0+dx);t.setAttribute('y',y0+dy);placed.push(r);ok=true;break;
    }
    if(!ok)t.style.display='none';
  }
}

// ---- events
document.addEventListener('click',async ev=>{
  const b=ev.target.closest('button.flag');
  if(b){
    const id=Number(b.dataset.id);const q=current.questions.find(x=>x.id===id);
    try{const r=await getJSON('/api/flag',{method:'POST',headers:{'Content-Type':'application/json'},
          body:JSON.stringify({id:id,flagged:!q.flagged})});
      q.flagged=r.flagged;$('#status').textContent=(r.flagged?'flagged':'unflagged')+' question '+id+' ('+r.flags+' flag(s) saved)';
      await loadInfo();renderScenes();renderQuestions();markPlan();}
    catch(e){$('#status').textContent='error: '+e.message;}
    return;
  }
  const tr=ev.target.closest('#questions tbody tr');
  if(tr&&!ev.target.closest('a'))go({q:Number(tr.dataset.id)});
});
$('#type-filter').onchange=filtersChanged;
window.addEventListener('hashchange',applyHash);
loadInfo().then(applyHash).catch(e=>{$('#status').textContent='error: '+e.message;});
</script></body></html>
"""
