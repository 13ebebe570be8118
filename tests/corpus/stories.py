"""The articles of the labelled corpus: invented news stories in English, Spanish, Arabic and
Persian, written for these tests (places, people and figures are made up).

A story is its text only; `layouts` renders it as a page of one kind of news site and the
expected body text is what `Story.expected_text` says. In paragraph text, `[words](/path)`
is a link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Block = tuple[str, object]  # ("p" | "h2" | "quote", str) | ("ul" | "ol", [str]) | ("table", rows)
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def plain(text: str) -> str:
    return _LINK.sub(r"\1", text)


@dataclass(frozen=True)
class Story:
    key: str
    lang: str
    title: str
    author: str
    published: str
    trail: tuple[str, ...]
    caption: str
    blocks: tuple[Block, ...]
    dek: str = ""
    pullquote: str = ""
    comments: tuple[tuple[str, str], ...] = ()
    article_id: int = 0
    slug: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    def expected_text(self) -> str:
        """The body as a reader should get it: one block per paragraph, heading, list item
        and table row (cells separated by tabs), blank lines between blocks."""
        out: list[str] = []
        for kind, value in self.blocks:
            if kind in ("ul", "ol"):
                out.extend(plain(item) for item in value)  # type: ignore[attr-defined]
            elif kind == "table":
                out.extend("\t".join(row) for row in value)  # type: ignore[attr-defined]
            else:
                out.append(plain(str(value)))
        return "\n\n".join(out) + "\n"


def p(text: str) -> Block:
    return ("p", text)


def h2(text: str) -> Block:
    return ("h2", text)


def quote(text: str) -> Block:
    return ("quote", text)


def ul(*items: str) -> Block:
    return ("ul", list(items))


def ol(*items: str) -> Block:
    return ("ol", list(items))


def table(*rows: tuple[str, ...]) -> Block:
    return ("table", [list(r) for r in rows])


HARBOUR_BACKGROUND = (
    "The wall, built in 1911 from granite blocks quarried on the headland, protects about "
    "forty fishing boats and the ferry that links the town with the island of Carrow. Storms "
    "in January tore a gap of almost thirty metres in its seaward face.",
    "Since then the ferry has run only in calm weather, and two boatyards on the quay have "
    "laid off staff. Insurers told the council in February that they would not cover the "
    "quayside businesses through another winter without repairs.",
)

ENGLISH = [
    Story(
        key="wp-harbour",
        lang="en",
        title="Marlow Bay votes to rebuild its storm-damaged harbour wall",
        author="Helen Ashcroft",
        published="2024-03-04T08:15:00+00:00",
        trail=("News", "Local"),
        caption="Waves break over the damaged section of the harbour wall in January.",
        article_id=4101,
        slug="marlow-bay-votes-to-rebuild-harbour-wall",
        tags=("Harbour", "Council"),
        blocks=(
            p(
                "Councillors in Marlow Bay voted by eleven to two on Monday night to rebuild "
                "the town’s Victorian harbour wall, ending months of argument over whether "
                "the damaged structure should be repaired or replaced with a cheaper "
                "rock barrier."
            ),
            p(HARBOUR_BACKGROUND[0]),
            p(HARBOUR_BACKGROUND[1]),
            h2("What the council agreed"),
            p("The plan approved on Monday has three parts:"),
            ul(
                "rebuilding the breached section in granite faced to match the old wall;",
                "raising the whole wall by sixty centimetres to allow for higher tides;",
                "a new slipway for the lifeboat at the northern end of the quay.",
            ),
            p(
                "The work is expected to cost £4.2 million, of which the regional "
                "[coastal fund](/tag/coastal-fund) will pay about two thirds. The rest will "
                "come from the council’s reserves and a loan to be repaid from harbour dues."
            ),
            quote(
                "“We owe it to the people who built this harbour to keep it working. A pile "
                "of rocks would have saved money this year and cost us the harbour within "
                "a generation,” said the council leader, Marion Teague."
            ),
            p(
                "The two councillors who voted against the plan said the town could not "
                "afford the loan and asked for an independent survey of the wall’s "
                "foundations before any contract is signed."
            ),
            p(
                "Work is due to start in May and to finish before the autumn storms, "
                "although the council warned that the ferry timetable may be cut while "
                "cranes are working on the quay."
            ),
        ),
        comments=(
            ("Jim P.", "About time. My father fished from this quay for forty years."),
            ("Sarah", "Who is going to pay back the loan when the ferry stops running?"),
            ("Old Harbour Friends", "We will hold a public meeting on the plan next Tuesday."),
        ),
    ),
    Story(
        key="wp-followup",
        lang="en",
        title="Harbour wall contract goes to a local firm as repairs begin",
        author="Helen Ashcroft",
        published="2024-05-13T07:40:00+00:00",
        trail=("News", "Local"),
        caption="The first cranes arrived on the quay on Sunday.",
        article_id=4188,
        slug="harbour-wall-contract-goes-to-local-firm",
        blocks=(
            p(
                "A family-owned building firm from Penhallow has won the contract to rebuild "
                "the harbour wall in Marlow Bay, beating two national companies that had "
                "offered lower prices but longer timetables."
            ),
            p(
                "Kessell and Daughters, which has repaired sea defences along this coast "
                "since the 1960s, will employ around sixty people on the project, most of "
                "them from the town and the villages around it."
            ),
            p(HARBOUR_BACKGROUND[0]),
            p(HARBOUR_BACKGROUND[1]),
            p(
                "The firm’s managing director, Ruth Kessell, said the first task was to "
                "lower temporary steel sheets into the gap so that divers could inspect "
                "the foundations in still water."
            ),
            p(
                "The independent survey asked for by opponents of the plan was completed in "
                "April. It found the foundations sound along most of the wall but "
                "recommended extra anchoring at the northern end, which has added about "
                "£300,000 to the cost."
            ),
            p(
                "The ferry to Carrow will keep its summer timetable, the council said, "
                "except on six days in June when the landing stage will be closed."
            ),
        ),
    ),
    Story(
        key="wp-library",
        lang="en",
        title="Eastfield library starts lending drills and ladders alongside books",
        author="Tom Okafor",
        published="2024-02-19T10:00:00+00:00",
        trail=("News", "Community"),
        caption="Volunteers sort donated tools in the library basement.",
        article_id=3977,
        slug="eastfield-library-lends-tools",
        blocks=(
            p(
                "Eastfield’s central library has opened a tool-lending room in its basement, "
                "letting anyone with a library card borrow a drill, a ladder or a sewing "
                "machine for up to a week, free of charge."
            ),
            p(
                "The scheme began with about two hundred tools donated by residents after an "
                "appeal in the autumn. Volunteers from a local repair café check each item "
                "when it comes back and keep a waiting list for the most popular ones."
            ),
            p("To borrow a tool, members are asked to:"),
            ol(
                "reserve it online or at the front desk;",
                "watch a short safety video for power tools;",
                "return it clean, with all its parts, within seven days.",
            ),
            p("In the first month the most borrowed items were:"),
            table(
                ("Tool", "Loans", "Waiting list"),
                ("Cordless drill", "64", "12"),
                ("Carpet cleaner", "41", "9"),
                ("Stepladder", "38", "3"),
                ("Sewing machine", "22", "5"),
            ),
            p(
                "The head librarian, Grace Mensah, said the room had brought in people who "
                "had not visited the library for years. “Some come for a drill and leave "
                "with a novel,” she said."
            ),
            p(
                "The council has agreed to keep the room open on Saturday afternoons from "
                "March and is looking for more volunteers who can repair small electrical "
                "appliances."
            ),
        ),
    ),
    Story(
        key="arc-rail",
        lang="en",
        title="Night trains return to the northern mountain line after two decades",
        author="Priya Raman",
        published="2024-04-02T05:30:00+00:00",
        trail=("Travel",),
        caption="A test run of the sleeper train crosses the Vell viaduct in March.",
        dek="A sleeper service between the capital and the lake towns is running again, "
        "helped by a new generation of travellers who would rather not fly.",
        pullquote="We sold the first month of berths in four days.",
        article_id=5521,
        slug="night-trains-return-northern-line",
        blocks=(
            p(
                "For the first time in twenty-two years, a sleeper train left the capital’s "
                "central station on Monday night bound for the lake towns of the north, "
                "reviving a route that was closed in 2002 for lack of passengers."
            ),
            p(
                "The train, made up of six refurbished sleeping cars and a restaurant car, "
                "will run three nights a week until June and every night over the summer. "
                "The journey of 640 kilometres takes eleven hours, including a long climb "
                "through the Vell pass before dawn."
            ),
            p(
                "“We sold the first month of berths in four days,” said Anika Lorentz, who "
                "runs the small company that leases the cars from the national railway. "
                "“Most of our passengers are under forty, and many of them told us they had "
                "stopped flying for short trips.”"
            ),
            p(
                "The route’s revival owes much to a European programme that pays part of "
                "the track charges for new night services. Without it, Ms. Lorentz said, a "
                "ticket would cost about a third more."
            ),
            h2("A slower way to travel"),
            p(
                "Fares start at 49 euros for a seat and 129 euros for a bed in a shared "
                "compartment. Private compartments with a shower cost more than a flight "
                "but, the operator argues, save the price of a hotel night."
            ),
            p(
                "Rail unions welcomed the service but warned that the line’s signalling, "
                "much of it from the 1970s, would need investment if trains were to run "
                "on time through the winter."
            ),
            p(
                "The regional tourism board expects the train to bring about 15,000 extra "
                "visitors to the lake towns this year, most of them outside the short "
                "skiing season."
            ),
        ),
    ),
    Story(
        key="arc-election",
        lang="en",
        title="Greens gain three seats as turnout falls in the regional council election",
        author="Daniel Brooks",
        published="2024-05-06T22:10:00+00:00",
        trail=("Politics",),
        caption="Counting staff at the exhibition centre on Sunday night.",
        dek="No party won a majority; coalition talks start on Tuesday.",
        article_id=5604,
        slug="greens-gain-regional-council-election",
        blocks=(
            p(
                "The Green Party gained three seats in Sunday’s election to the regional "
                "council, leaving the Centre Alliance as the largest group but short of a "
                "majority for the first time since 2008."
            ),
            p(
                "Turnout fell to 51 percent, the lowest since the council was created, "
                "which officials blamed partly on heavy rain in the western districts "
                "during the afternoon."
            ),
            p("Final results published by the returning officer on Monday morning:"),
            table(
                ("Party", "Seats", "Change", "Share of vote"),
                ("Centre Alliance", "27", "−4", "34.1%"),
                ("Social Democrats", "19", "+1", "25.6%"),
                ("Greens", "11", "+3", "15.2%"),
                ("Farmers’ League", "6", "0", "9.8%"),
                ("Independents", "3", "0", "5.3%"),
            ),
            p(
                "The council has 66 seats, so a majority needs 34. The Centre Alliance "
                "leader, Margit Hollis, said she would talk first to the Farmers’ League, "
                "with whom her party governed until 2016."
            ),
            p(
                "The Greens, who campaigned against a planned motorway across the river "
                "meadows, said they would not join any coalition that kept the project. "
                "“The voters have told us what they want,” said their lead candidate, "
                "Jonas Weir."
            ),
            p(
                "Coalition talks are expected to take several weeks. Until a new leader is "
                "elected, the outgoing executive will remain in office with limited powers."
            ),
        ),
    ),
    Story(
        key="arc-heat",
        lang="en",
        title="What doctors advise as the heatwave reaches its third week",
        author="Lena Fischer",
        published="2024-07-22T06:00:00+00:00",
        trail=("Health",),
        caption="A pharmacist hands out water at a bus stop in the old town.",
        dek="Hospitals report more admissions of older people; here is how to stay safe.",
        pullquote="Most of the harm is done at night, when the body cannot cool down.",
        article_id=5820,
        slug="heatwave-third-week-doctors-advice",
        blocks=(
            p(
                "With temperatures above 35 degrees for a third week and no rain forecast "
                "before the weekend, hospitals across the region say they are treating "
                "twice as many older patients as usual for dehydration and heat exhaustion."
            ),
            p(
                "Doctors say the danger is greatest for people living alone in top-floor "
                "flats, where rooms can stay above 30 degrees all night. “Most of the harm "
                "is done at night, when the body cannot cool down,” said Dr. Amal Haddad, "
                "who leads the emergency department at the university hospital."
            ),
            h2("Keeping cool at home"),
            ul(
                "Close curtains and shutters on sunny windows during the day.",
                "Open windows at night when the air outside is cooler than inside.",
                "Take cool, not cold, showers; a damp cloth on the neck helps.",
                "Drink water regularly, even without feeling thirsty.",
            ),
            h2("Warning signs"),
            p(
                "Headache, dizziness, cramps and confusion can all be signs of heat "
                "exhaustion. Anyone who stops sweating, has a temperature above 39 degrees "
                "or loses consciousness needs emergency care."
            ),
            ul(
                "Move the person to a cool place and loosen their clothing.",
                "Give small sips of water if they are awake.",
                "Call the emergency number if they do not improve within half an hour.",
            ),
            p(
                "The city has opened eleven cooled public rooms in libraries and community "
                "centres, open until ten in the evening. Volunteers are also calling older "
                "residents who have signed up for a daily check."
            ),
        ),
    ),
    Story(
        key="ptv-ports",
        lang="en",
        title="Gulf ports report record container traffic for the first quarter",
        author="Press TV",
        published="2024-04-11T11:20:00+00:00",
        trail=("News", "Economy"),
        caption="Cranes unload a container ship at a southern port. (File photo)",
        article_id=700211,
        slug="Gulf-ports-report-record-container-traffic",
        blocks=(
            p(
                "Container traffic through the country’s southern ports rose by 14 percent "
                "in the first three months of the year, reaching a record for the quarter, "
                "the ports authority said on Thursday."
            ),
            p(
                "The authority said the ports had handled about 820,000 standard containers "
                "between January and March, most of them through the two largest terminals "
                "on the Gulf coast."
            ),
            p(
                "Officials credited the increase to new rail links that carry containers "
                "inland within a day of unloading, and to transit cargo bound for "
                "neighbouring landlocked countries."
            ),
            p(
                "“Transit through our ports is now faster and cheaper than the routes our "
                "neighbours used before,” the head of the authority told reporters, adding "
                "that two new berths would open before the end of the year."
            ),
            p(
                "Exports of non-oil goods, including petrochemicals, steel and farm "
                "produce, made up more than half of the outgoing cargo, according to the "
                "figures."
            ),
            p(
                "The authority plans to expand storage yards at three smaller ports on the "
                "Sea of Oman, where traffic grew fastest during the quarter."
            ),
        ),
    ),
    Story(
        key="ptv-drought",
        lang="en",
        title="Farmers in the south warn of heavy losses as drought enters second year",
        author="Press TV",
        published="2024-06-03T09:05:00+00:00",
        trail=("News", "Environment"),
        caption="A dry irrigation channel near a wheat field in the south. (File photo)",
        article_id=700540,
        slug="Farmers-in-the-south-warn-of-heavy-losses",
        blocks=(
            p(
                "Farmers in the southern provinces say they expect to lose up to a third of "
                "this year’s wheat harvest as a drought that began last spring shows no sign "
                "of ending."
            ),
            p(
                "Rainfall since October has been less than half the average for the past "
                "thirty years, according to the national meteorological office, and several "
                "reservoirs that supply irrigation canals are below a fifth of capacity."
            ),
            p(
                "The agriculture ministry said it would buy wheat from affected farms at a "
                "guaranteed price and extend repayment periods on loans taken for seed and "
                "fertiliser."
            ),
            p(
                "Farmers’ unions welcomed the measures but called for faster investment in "
                "drip irrigation, which uses a fraction of the water needed by open "
                "channels."
            ),
            p(
                "“Our grandfathers farmed with the rain they were given. We have to learn "
                "to farm with much less,” said a wheat grower from a village near the "
                "provincial capital."
            ),
            p(
                "Environmental experts say falling groundwater levels in the region are a "
                "longer-term threat than any single dry year, and have urged limits on new "
                "wells."
            ),
        ),
    ),
]

SPANISH = [
    Story(
        key="es-cosecha",
        lang="es",
        title="Caficultores de la sierra celebran una cosecha récord tras años de sequía",
        author="María Fernanda Quispe",
        published="2024-03-18T14:00:00+00:00",
        trail=("Noticias", "Economía"),
        caption="Una recolectora muestra granos maduros en una finca de la sierra.",
        article_id=810044,
        slug="caficultores-sierra-cosecha-record",
        blocks=(
            p(
                "Los productores de café de la sierra central recogieron este año la mayor "
                "cosecha de su historia, con casi 48.000 toneladas de grano, según informó "
                "el lunes la cooperativa regional de caficultores."
            ),
            p(
                "La cifra supera en un 22 por ciento a la del año pasado y llega después de "
                "tres temporadas marcadas por la falta de lluvias, que obligaron a muchas "
                "familias a abandonar parte de sus parcelas."
            ),
            p(
                "Los técnicos de la cooperativa atribuyen el resultado a unas lluvias "
                "regulares entre octubre y enero y a la renovación de cafetales viejos con "
                "variedades más resistentes a la roya, una plaga que arrasó la región "
                "hace una década."
            ),
            p(
                "«Hemos vuelto a contratar a jóvenes del pueblo para la recolección; hacía "
                "años que se iban todos a la ciudad», dijo Teodoro Huamán, que cultiva "
                "cuatro hectáreas cerca de la capital provincial."
            ),
            p(
                "Sin embargo, los productores advierten que los precios internacionales "
                "han bajado desde diciembre y temen que una parte de la cosecha se quede "
                "en los almacenes si no encuentran compradores antes del verano."
            ),
            p(
                "El gobierno regional anunció créditos a bajo interés para construir "
                "secaderos solares y mejorar la calidad del grano destinado a la exportación."
            ),
        ),
    ),
    Story(
        key="es-tranvia",
        lang="es",
        title="La ciudad inaugura una nueva línea de tranvía que une el centro con el puerto",
        author="Redacción",
        published="2024-05-27T09:30:00+00:00",
        trail=("Noticias", "Sociedad"),
        caption="El primer tranvía de la línea 3 sale de la plaza del Mercado.",
        article_id=810392,
        slug="nueva-linea-tranvia-centro-puerto",
        blocks=(
            p(
                "La línea 3 del tranvía, que conecta la plaza del Mercado con la terminal "
                "de cruceros del puerto, entró en servicio el domingo después de casi "
                "cuatro años de obras y dos retrasos en el calendario."
            ),
            p(
                "El recorrido tiene 7,4 kilómetros y doce paradas, y el ayuntamiento "
                "calcula que lo usarán unos 30.000 viajeros al día cuando termine el "
                "verano. Los tranvías pasarán cada seis minutos en hora punta."
            ),
            h2("Cambios en los autobuses"),
            p(
                "Con la apertura de la nueva línea, tres rutas de autobús que hacían el "
                "mismo trayecto se acortan o cambian de recorrido a partir del lunes:"
            ),
            ul(
                "la línea 14 terminará en la estación de Santa Rita;",
                "la línea 21 dejará de entrar en el puerto;",
                "la línea 33 pasará por el nuevo barrio de La Ribera.",
            ),
            p(
                "Los comerciantes de la avenida del Puerto, que sufrieron durante las obras "
                "el cierre de aceras y aparcamientos, esperan recuperar ahora a los "
                "clientes perdidos."
            ),
            p(
                "La alcaldesa, Elena Sarmiento, viajó en el primer tranvía y prometió que "
                "la línea 4, hacia la universidad, se licitará antes de fin de año."
            ),
        ),
    ),
    Story(
        key="es-museo",
        lang="es",
        title="Un museo abre al público su archivo de fotografías antiguas de la ciudad",
        author="Lucía Beltrán",
        published="2024-01-25T12:00:00+00:00",
        trail=("Cultura",),
        caption="Una de las placas de vidrio restauradas, tomada en el mercado hacia 1910.",
        article_id=7715,
        slug="museo-archivo-fotografias-antiguas",
        blocks=(
            p(
                "El Museo de Historia de la ciudad ha puesto a disposición del público más "
                "de 12.000 fotografías tomadas entre 1880 y 1950, que hasta ahora solo "
                "podían consultar los investigadores con cita previa."
            ),
            p(
                "Las imágenes, en su mayoría placas de vidrio y negativos de un estudio "
                "fotográfico que cerró en los años sesenta, muestran calles, mercados, "
                "fiestas y oficios que ya han desaparecido."
            ),
            p(
                "Un equipo de cinco restauradores ha trabajado durante tres años para "
                "limpiar y digitalizar el fondo. Las copias pueden verse en una sala del "
                "museo y en su [página web](/archivo), donde los visitantes pueden "
                "ayudar a identificar a las personas y los lugares."
            ),
            quote(
                "«Cada semana alguien reconoce a un abuelo o la tienda de su familia. Esa "
                "memoria no está en ningún libro», explicó la directora del museo, "
                "Carmen Aguirre."
            ),
            p(
                "El museo prepara para otoño una exposición con las cien fotografías que "
                "más comentarios hayan recibido de los vecinos."
            ),
        ),
        comments=(
            ("Antonio R.", "En la foto del mercado sale el puesto de mi bisabuela."),
            ("Marta", "¿Se pueden pedir copias en papel? Me encantaría tener una."),
        ),
    ),
]

ARABIC = [
    Story(
        key="ar-water",
        lang="ar",
        title="افتتاح محطة جديدة لتحلية مياه البحر في المدينة الساحلية",
        author="قسم الأخبار",
        published="2024-03-12T10:45:00+00:00",
        trail=("الأخبار", "اقتصاد"),
        caption="جانب من محطة التحلية الجديدة على ساحل المدينة.",
        article_id=902117,
        slug="desalination-plant-opens",
        blocks=(
            p(
                "افتتحت السلطات المحلية يوم الثلاثاء محطة جديدة لتحلية مياه البحر في "
                "المدينة الساحلية، بطاقة إنتاجية تبلغ مئة ألف متر مكعب يوميا، في خطوة "
                "تهدف إلى تخفيف أزمة المياه التي يعاني منها السكان منذ سنوات."
            ),
            p(
                "وقال مدير شركة المياه في مؤتمر صحفي إن المحطة ستغطي حاجة نحو أربعمئة ألف "
                "نسمة، وإن المياه ستصل إلى الأحياء الشرقية قبل بداية فصل الصيف."
            ),
            p(
                "وأوضح أن المحطة تعمل بتقنية التناضح العكسي، وأنها تستهلك طاقة أقل بنحو "
                "الثلث من المحطات القديمة، كما أن جزءا من الكهرباء اللازمة لتشغيلها يأتي "
                "من ألواح شمسية أقيمت بجوارها."
            ),
            p(
                "ورحب سكان الأحياء الشرقية بالمشروع، بعد أن كانوا يعتمدون على شراء المياه "
                "من الصهاريج بأسعار مرتفعة، خاصة في أشهر الصيف الحارة."
            ),
            p(
                "من جهتهم، دعا خبراء البيئة إلى مراقبة المياه المالحة التي تعيدها المحطة "
                "إلى البحر، حفاظا على الثروة السمكية في الخليج القريب."
            ),
        ),
    ),
    Story(
        key="ar-school",
        lang="ar",
        title="وزارة التربية تعلن خطة لبناء مئة مدرسة جديدة خلال ثلاث سنوات",
        author="مراسلنا",
        published="2024-04-08T07:30:00+00:00",
        trail=("الأخبار", "مجتمع"),
        caption="تلاميذ في أحد الفصول الدراسية بالعاصمة.",
        article_id=902301,
        slug="ministry-hundred-new-schools",
        blocks=(
            p(
                "أعلنت وزارة التربية والتعليم عن خطة لبناء مئة مدرسة جديدة خلال السنوات "
                "الثلاث المقبلة، لمواجهة الاكتظاظ في الفصول الدراسية بالمدن الكبرى "
                "والمناطق الريفية على حد سواء."
            ),
            p(
                "وقال وزير التربية إن عدد التلاميذ في بعض الفصول يتجاوز خمسين تلميذا، "
                "وإن الخطة تهدف إلى خفض هذا العدد إلى ثلاثين في المرحلة الابتدائية."
            ),
            p("وتشمل الخطة التي عرضها الوزير:"),
            ul(
                "بناء ستين مدرسة ابتدائية في الأحياء الجديدة حول المدن.",
                "إنشاء أربعين مدرسة في القرى التي لا توجد فيها مدرسة قريبة.",
                "تدريب ألفي معلم جديد في كليات التربية.",
            ),
            p(
                "وأضاف الوزير أن تكلفة المشروع تقدر بنحو ثلاثمئة مليون دولار، يأتي جزء منها "
                "من قرض ميسر وافق عليه صندوق تنموي إقليمي."
            ),
            p(
                "ورحبت نقابة المعلمين بالخطة، لكنها طالبت بتحسين رواتب المعلمين حتى لا "
                "تبقى المدارس الجديدة بلا كوادر كافية."
            ),
        ),
    ),
    Story(
        key="ar-market",
        lang="ar",
        title="أسواق المدينة القديمة تستعد لاستقبال شهر رمضان",
        author="قسم الأخبار",
        published="2024-03-08T16:20:00+00:00",
        trail=("الأخبار", "منوعات"),
        caption="محل لبيع الفوانيس والتمور في السوق القديم.",
        article_id=902090,
        slug="old-city-markets-ramadan",
        blocks=(
            p(
                "تشهد أسواق المدينة القديمة حركة نشطة مع اقتراب شهر رمضان، حيث يتوافد "
                "الناس لشراء التمور والبهارات والفوانيس الملونة التي تزين البيوت "
                "والشوارع."
            ),
            p(
                "ويقول أصحاب المحلات إن الإقبال هذا العام أكبر من العام الماضي، رغم "
                "ارتفاع أسعار بعض السلع المستوردة، بسبب عودة الزوار من المدن المجاورة."
            ),
            p(
                "وفي سوق العطارين، يعرض الباعة أنواعا كثيرة من التمور، أغلاها ما يأتي من "
                "واحات الجنوب، إلى جانب قمر الدين والمكسرات التي تستخدم في الحلويات "
                "الرمضانية."
            ),
            p(
                "وقال بائع فوانيس ورث المهنة عن أبيه إن الفانوس المصنوع يدويا من النحاس "
                "والزجاج الملون ما زال يجد من يطلبه، رغم انتشار الفوانيس البلاستيكية "
                "الرخيصة."
            ),
            p(
                "وأعلنت البلدية تمديد ساعات عمل الأسواق حتى منتصف الليل طوال الشهر، "
                "وتخصيص مواقف إضافية للسيارات قرب البوابات القديمة."
            ),
        ),
    ),
]

PERSIAN = [
    Story(
        key="fa-metro",
        lang="fa",
        title="خط جدید متروی شهر به ایستگاه راه‌آهن رسید",
        author="گروه شهری",
        published="2024-02-27T08:00:00+00:00",
        trail=("اخبار", "شهری"),
        caption="نخستین قطار خط جدید در ایستگاه راه‌آهن.",
        article_id=990410,
        slug="metro-line-reaches-railway-station",
        blocks=(
            p(
                "خط جدید متروی شهر روز دوشنبه با حضور مسئولان شهری به ایستگاه راه‌آهن رسید "
                "و از این پس مسافران می‌توانند بدون تعویض قطار از مرکز شهر به ایستگاه "
                "راه‌آهن سفر کنند."
            ),
            p(
                "به گفته مدیرعامل شرکت بهره‌برداری مترو، طول این بخش از خط حدود نه "
                "کیلومتر است و هفت ایستگاه دارد که پنج ایستگاه آن از امروز فعال شده است."
            ),
            p(
                "او افزود که قطارها در ساعات شلوغ هر هشت دقیقه یک بار حرکت می‌کنند و "
                "پیش‌بینی می‌شود روزانه بیش از صد هزار نفر از این خط استفاده کنند."
            ),
            p(
                "ساکنان محله‌های جنوبی شهر که تاکنون برای رسیدن به مرکز شهر باید دو بار "
                "اتوبوس عوض می‌کردند، از افتتاح این خط استقبال کردند."
            ),
            p(
                "شهرداری اعلام کرده است که دو ایستگاه باقی‌مانده تا پایان تابستان آماده "
                "بهره‌برداری خواهد شد."
            ),
        ),
    ),
    Story(
        key="fa-book",
        lang="fa",
        title="نمایشگاه کتاب با حضور ناشران استانی آغاز شد",
        author="گروه فرهنگی",
        published="2024-05-09T09:15:00+00:00",
        trail=("اخبار", "فرهنگی"),
        caption="بازدیدکنندگان در نخستین روز نمایشگاه کتاب.",
        article_id=990655,
        slug="book-fair-opens-with-provincial-publishers",
        blocks=(
            p(
                "نمایشگاه کتاب امسال روز پنجشنبه با حضور بیش از هزار ناشر از سراسر کشور "
                "آغاز به کار کرد و تا ده روز آینده میزبان علاقه‌مندان به کتاب است."
            ),
            p(
                "برگزارکنندگان می‌گویند سهم ناشران استانی در این دوره بیشتر از سال‌های "
                "گذشته است و برای نخستین بار بخشی ویژه به کتاب‌های محلی و زبان‌های "
                "بومی اختصاص یافته است."
            ),
            p(
                "در بخش کودک و نوجوان نیز کارگاه‌های داستان‌نویسی و نقاشی برگزار می‌شود و "
                "نویسندگان شناخته‌شده هر روز با خوانندگان جوان دیدار خواهند کرد."
            ),
            quote(
                "«کتاب‌خوان‌ها فقط در پایتخت نیستند؛ ناشر کوچک شهرستانی هم باید دیده شود.» "
                "این را یکی از ناشران حاضر در نمایشگاه گفت."
            ),
            p(
                "به گفته مسئولان، امسال امکان خرید اینترنتی کتاب‌ها نیز فراهم شده است تا "
                "کسانی که نمی‌توانند به نمایشگاه بیایند هم از تخفیف‌ها بهره ببرند."
            ),
        ),
    ),
]

STORIES = {s.key: s for s in [*ENGLISH, *SPANISH, *ARABIC, *PERSIAN]}
