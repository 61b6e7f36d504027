"""Bilingual vocabulary and sentence templates for the demo corpus (English and Chinese side by side).

Every slot value is an ``(english, chinese)`` pair and every template has both language forms, so one random
binding yields an English document, a Chinese document or a parallel (interleaved) one with the same content.
The words are real vocabulary; the facts in ``FACTS`` are true statements.
"""

from __future__ import annotations

Pair = tuple[str, str]

NAMES: list[Pair] = [
    ("Li Lei", "李雷"),
    ("Wang Fang", "王芳"),
    ("Zhang Wei", "张伟"),
    ("Chen Jing", "陈静"),
    ("Liu Yang", "刘洋"),
    ("Zhao Min", "赵敏"),
    ("Sun Li", "孙丽"),
    ("Zhou Jie", "周杰"),
    ("Wu Hao", "吴昊"),
    ("Xu Ming", "徐明"),
    ("Alice", "爱丽丝"),
    ("Tom", "汤姆"),
    ("Emma", "艾玛"),
    ("David", "大卫"),
    ("Sophia", "索菲亚"),
    ("James", "詹姆斯"),
    ("Olivia", "奥利维亚"),
    ("Henry", "亨利"),
    ("Lucy", "露西"),
    ("Jack", "杰克"),
    ("Hu Xue", "胡雪"),
    ("Ma Tao", "马涛"),
    ("Guo Qiang", "郭强"),
    ("Lin Na", "林娜"),
    ("He Yu", "何宇"),
]
CITIES: list[Pair] = [
    ("Beijing", "北京"),
    ("Shanghai", "上海"),
    ("Guangzhou", "广州"),
    ("Shenzhen", "深圳"),
    ("Hangzhou", "杭州"),
    ("Chengdu", "成都"),
    ("Wuhan", "武汉"),
    ("Xi'an", "西安"),
    ("Nanjing", "南京"),
    ("Chongqing", "重庆"),
    ("Tianjin", "天津"),
    ("Suzhou", "苏州"),
    ("Kunming", "昆明"),
    ("Qingdao", "青岛"),
    ("Xiamen", "厦门"),
    ("London", "伦敦"),
    ("Paris", "巴黎"),
    ("New York", "纽约"),
    ("Tokyo", "东京"),
    ("Berlin", "柏林"),
    ("Sydney", "悉尼"),
    ("Toronto", "多伦多"),
    ("Singapore", "新加坡"),
    ("Rome", "罗马"),
    ("Cairo", "开罗"),
]
SEASONS: list[Pair] = [("spring", "春天"), ("summer", "夏天"), ("autumn", "秋天"), ("winter", "冬天")]
WEATHER: list[Pair] = [
    ("sunny", "晴朗"),
    ("cloudy", "多云"),
    ("rainy", "有雨"),
    ("windy", "有风"),
    ("foggy", "有雾"),
    ("snowy", "有雪"),
]
PLACES: list[Pair] = [
    ("the old town", "老城区"),
    ("the city museum", "城市博物馆"),
    ("the central park", "中心公园"),
    ("the night market", "夜市"),
    ("the river bank", "河边"),
    ("the botanical garden", "植物园"),
    ("the national library", "国家图书馆"),
    ("the train station", "火车站"),
    ("the science center", "科技馆"),
    ("a small tea house", "一家小茶馆"),
    ("the art gallery", "美术馆"),
    ("the university campus", "大学校园"),
]
FOODS: list[Pair] = [
    ("dumplings", "饺子"),
    ("noodles", "面条"),
    ("hot pot", "火锅"),
    ("roast duck", "烤鸭"),
    ("rice", "米饭"),
    ("tofu", "豆腐"),
    ("steamed buns", "包子"),
    ("fried rice", "炒饭"),
    ("green tea", "绿茶"),
    ("soup", "汤"),
    ("fish", "鱼"),
    ("bread", "面包"),
    ("apples", "苹果"),
    ("oranges", "橙子"),
    ("mooncakes", "月饼"),
]
INGREDIENTS: list[Pair] = [
    ("flour", "面粉"),
    ("eggs", "鸡蛋"),
    ("salt", "盐"),
    ("sugar", "糖"),
    ("garlic", "大蒜"),
    ("ginger", "生姜"),
    ("soy sauce", "酱油"),
    ("green onions", "葱"),
    ("pork", "猪肉"),
    ("beef", "牛肉"),
    ("chicken", "鸡肉"),
    ("tomatoes", "西红柿"),
    ("potatoes", "土豆"),
    ("carrots", "胡萝卜"),
    ("cabbage", "白菜"),
    ("vinegar", "醋"),
]
PRODUCTS: list[Pair] = [
    ("phone", "手机"),
    ("laptop", "笔记本电脑"),
    ("camera", "相机"),
    ("bicycle", "自行车"),
    ("watch", "手表"),
    ("backpack", "背包"),
    ("lamp", "台灯"),
    ("kettle", "水壶"),
    ("printer", "打印机"),
    ("headphones", "耳机"),
    ("umbrella", "雨伞"),
    ("keyboard", "键盘"),
    ("coffee machine", "咖啡机"),
    ("tablet", "平板电脑"),
]
ADJ_GOOD: list[Pair] = [
    ("excellent", "出色"),
    ("reliable", "可靠"),
    ("comfortable", "舒适"),
    ("beautiful", "漂亮"),
    ("quiet", "安静"),
    ("convenient", "方便"),
    ("durable", "耐用"),
    ("elegant", "优雅"),
    ("fast", "快速"),
    ("practical", "实用"),
]
ADJ_BAD: list[Pair] = [
    ("noisy", "吵闹"),
    ("heavy", "笨重"),
    ("expensive", "昂贵"),
    ("fragile", "易碎"),
    ("slow", "缓慢"),
    ("complicated", "复杂"),
]
JOBS: list[Pair] = [
    ("teacher", "老师"),
    ("doctor", "医生"),
    ("engineer", "工程师"),
    ("farmer", "农民"),
    ("nurse", "护士"),
    ("programmer", "程序员"),
    ("chef", "厨师"),
    ("driver", "司机"),
    ("scientist", "科学家"),
    ("writer", "作家"),
    ("lawyer", "律师"),
    ("artist", "艺术家"),
    ("student", "学生"),
    ("designer", "设计师"),
]
SUBJECTS: list[Pair] = [
    ("mathematics", "数学"),
    ("physics", "物理"),
    ("chemistry", "化学"),
    ("history", "历史"),
    ("biology", "生物"),
    ("geography", "地理"),
    ("literature", "文学"),
    ("music", "音乐"),
    ("computer science", "计算机科学"),
    ("economics", "经济学"),
    ("English", "英语"),
    ("Chinese", "语文"),
]
COMPANIES: list[Pair] = [
    ("Sunrise Technology", "旭日科技"),
    ("Blue River Foods", "蓝河食品"),
    ("Golden Bridge Bank", "金桥银行"),
    ("Green Field Energy", "绿野能源"),
    ("Star Harbor Logistics", "星港物流"),
    ("Cloud Peak Software", "云峰软件"),
    ("Red Maple Motors", "红枫汽车"),
    ("Pearl Textiles", "明珠纺织"),
    ("Jade Mountain Pharma", "玉山制药"),
]
INDUSTRIES: list[Pair] = [
    ("electric cars", "电动汽车"),
    ("solar panels", "太阳能电池板"),
    ("online education", "在线教育"),
    ("mobile games", "手机游戏"),
    ("cloud computing", "云计算"),
    ("fresh food delivery", "生鲜配送"),
    ("medical devices", "医疗器械"),
    ("tourism", "旅游业"),
    ("semiconductors", "半导体"),
]
FACILITIES: list[Pair] = [
    ("school", "学校"),
    ("hospital", "医院"),
    ("library building", "图书馆"),
    ("park", "公园"),
    ("bridge", "桥梁"),
    ("subway line", "地铁线路"),
    ("sports center", "体育中心"),
    ("charging station", "充电站"),
]
TEAMS: list[Pair] = [
    ("the Dragons", "飞龙队"),
    ("the Tigers", "猛虎队"),
    ("the Eagles", "雄鹰队"),
    ("the Sharks", "鲨鱼队"),
    ("the Pandas", "熊猫队"),
    ("the Lions", "雄狮队"),
    ("the Wolves", "野狼队"),
    ("the Falcons", "猎鹰队"),
]
SPORTS: list[Pair] = [
    ("basketball", "篮球"),
    ("football", "足球"),
    ("table tennis", "乒乓球"),
    ("volleyball", "排球"),
    ("badminton", "羽毛球"),
    ("tennis", "网球"),
]
ANIMALS: list[Pair] = [
    ("panda", "熊猫"),
    ("tiger", "老虎"),
    ("elephant", "大象"),
    ("dolphin", "海豚"),
    ("eagle", "老鹰"),
    ("rabbit", "兔子"),
    ("horse", "马"),
    ("cat", "猫"),
    ("dog", "狗"),
    ("crane", "丹顶鹤"),
]
HOBBIES: list[Pair] = [
    ("reading novels", "读小说"),
    ("playing the piano", "弹钢琴"),
    ("painting", "画画"),
    ("hiking", "爬山"),
    ("swimming", "游泳"),
    ("cooking", "做饭"),
    ("taking photos", "拍照"),
    ("gardening", "种花"),
    ("playing chess", "下棋"),
    ("running", "跑步"),
    ("calligraphy", "写书法"),
]
FEELINGS: list[Pair] = [
    ("happy", "开心"),
    ("tired", "疲惫"),
    ("excited", "兴奋"),
    ("relaxed", "放松"),
    ("surprised", "惊讶"),
    ("proud", "自豪"),
    ("grateful", "感激"),
]
FACTS: list[Pair] = [
    ("Water boils at 100 degrees Celsius at sea level.", "在海平面上，水在一百摄氏度时沸腾。"),
    ("The Earth goes around the Sun once a year.", "地球每年绕太阳转一圈。"),
    ("The Moon goes around the Earth about once a month.", "月亮大约每个月绕地球转一圈。"),
    ("Light travels faster than sound.", "光的传播速度比声音快。"),
    (
        "Plants use sunlight to make food from water and carbon dioxide.",
        "植物利用阳光把水和二氧化碳变成养分。",
    ),
    ("The Yangtze River is the longest river in Asia.", "长江是亚洲最长的河流。"),
    ("Mount Everest is the highest mountain in the world.", "珠穆朗玛峰是世界上最高的山峰。"),
    ("A triangle has three sides and three angles.", "三角形有三条边和三个角。"),
    ("The angles of a triangle add up to 180 degrees.", "三角形的内角和是一百八十度。"),
    ("Ice melts when the temperature rises above zero degrees Celsius.", "温度高于零摄氏度时，冰会融化。"),
    ("The human heart pumps blood through the whole body.", "人的心脏把血液输送到全身。"),
    ("Bees help flowers to produce seeds.", "蜜蜂帮助花朵结出种子。"),
    ("The Great Wall was built over many centuries.", "长城是在许多个世纪中修建起来的。"),
    ("Paper was invented in ancient China.", "纸是在中国古代发明的。"),
    ("A year has twelve months.", "一年有十二个月。"),
    ("A week has seven days.", "一个星期有七天。"),
    ("Metals conduct electricity well.", "金属的导电性很好。"),
    ("The Pacific Ocean is the largest ocean on Earth.", "太平洋是地球上最大的海洋。"),
    ("Sound cannot travel through a vacuum.", "声音不能在真空中传播。"),
    ("The square of a number is the number multiplied by itself.", "一个数的平方就是这个数乘以它自己。"),
    ("Every even number can be divided by two.", "每一个偶数都能被二整除。"),
    ("Giant pandas mainly eat bamboo.", "大熊猫主要以竹子为食。"),
    ("The compass was used for navigation in ancient China.", "中国古代就用指南针来导航。"),
    ("Oxygen makes up about one fifth of the air.", "氧气大约占空气的五分之一。"),
]

# Sentence templates per document type: (english, chinese). Slots: {name} {city} {season} {weather} {place}
# {food} {food2} {ingredient} {ingredient2} {product} {good} {bad} {job} {subject} {company} {industry}
# {facility} {team} {team2} {sport} {animal} {hobby} {feeling} {n} {m} {year} {pct} {lo} {hi} {s1} {s2}.
TEMPLATES: dict[str, list[Pair]] = {
    "travel": [
        ("{name} visited {city} last {season}.", "去年{season}，{name}去了{city}。"),
        ("The weather in {city} was {weather} most of the time.", "{city}的天气大部分时间都很{weather}。"),
        (
            "On the first day, {name} walked to {place} and stayed there for {n} hours.",
            "第一天，{name}走到{place}，在那里待了{n}个小时。",
        ),
        ("The local {food} was the best {name} had ever tasted.", "当地的{food}是{name}吃过最好吃的。"),
        (
            "Many visitors come to {place} to see the {animal} statues.",
            "很多游客来到{place}看{animal}的雕像。",
        ),
        (
            "In the evening, {name} had {food} and {food2} near {place}.",
            "晚上，{name}在{place}附近吃了{food}和{food2}。",
        ),
        ("A ticket for the museum costs {n} yuan, and students pay half.", "博物馆的门票是{n}元，学生半价。"),
        (
            "The trip made {name} feel {feeling}, and {name} took many photos.",
            "这次旅行让{name}感到很{feeling}，{name}拍了很多照片。",
        ),
        (
            "It takes about {n} hours by train from {city} to {city2}.",
            "从{city}坐火车到{city2}大约需要{n}个小时。",
        ),
        ("{name} plans to visit {city2} next {season}.", "{name}打算明年{season}去{city2}。"),
    ],
    "news": [
        (
            "The {city} government announced a plan to build {n} new {facility}s by {year}.",
            "{city}市政府宣布，到{year}年将新建{n}座{facility}。",
        ),
        (
            "Officials said the project will cost about {m} million yuan.",
            "官员表示，该项目将耗资约{m}百万元。",
        ),
        (
            "More than {m} thousand residents will benefit from the new {facility}s.",
            "超过{m}千名居民将从新的{facility}中受益。",
        ),
        ("Construction is expected to start in the {season} of {year}.", "工程预计在{year}年{season}开工。"),
        (
            "A local {job} said the plan was good news for families in {city}.",
            "一位当地的{job}说，这个计划对{city}的家庭来说是好消息。",
        ),
        ("The city has grown quickly over the past {n} years.", "在过去的{n}年里，这座城市发展得很快。"),
        ("Last year, {city} received {m} thousand tourists.", "去年，{city}接待了{m}千名游客。"),
        (
            "Experts believe that {industry} will play an important role in the local economy.",
            "专家认为，{industry}将在当地经济中发挥重要作用。",
        ),
        (
            "The report also said that air quality improved by {pct} percent.",
            "报告还说，空气质量改善了{pct}%。",
        ),
    ],
    "business": [
        (
            "{company} reported revenue of {m} million yuan in the last quarter.",
            "{company}上个季度的营业收入为{m}百万元。",
        ),
        (
            "That is an increase of {pct} percent compared with the same period last year.",
            "这比去年同期增长了{pct}%。",
        ),
        (
            "The company mainly works in {industry} and employs {n} hundred people.",
            "该公司主要从事{industry}，员工有{n}百人。",
        ),
        ("Its new factory in {city} opened in {year}.", "它在{city}的新工厂于{year}年投产。"),
        (
            "The chief executive said demand for {industry} keeps growing.",
            "首席执行官说，对{industry}的需求持续增长。",
        ),
        ("Analysts expect profits to rise by {pct} percent next year.", "分析师预计明年利润将增长{pct}%。"),
        ("The share price of {company} rose {n} percent on Monday.", "{company}的股价周一上涨了{n}%。"),
        (
            "The company plans to hire {n} hundred new engineers in {city2}.",
            "该公司计划在{city2}招聘{n}百名新工程师。",
        ),
    ],
    "weather": [
        (
            "{city} will be {weather} tomorrow, with temperatures between {lo} and {hi} degrees.",
            "明天{city}天气{weather}，气温在{lo}到{hi}度之间。",
        ),
        (
            "The wind will be light in the morning and stronger in the afternoon.",
            "上午风力较小，下午风力加大。",
        ),
        ("Rain is expected in {city2} on the weekend.", "周末{city2}预计有雨。"),
        ("People who go out early should bring an umbrella.", "早上出门的人最好带上雨伞。"),
        (
            "The average temperature this {season} is {n} degrees higher than usual.",
            "今年{season}的平均气温比往年高{n}度。",
        ),
        (
            "Farmers near {city} hope for more rain for their crops.",
            "{city}附近的农民希望多下雨，好让庄稼生长。",
        ),
        ("The air quality index in {city} is {m} today.", "今天{city}的空气质量指数是{m}。"),
    ],
    "review": [
        (
            "I bought a {product} from an online store {n} weeks ago.",
            "我在{n}周前从网上商店买了一个{product}。",
        ),
        ("It cost {m} yuan, which I think is a fair price.", "它花了{m}元，我觉得价格合理。"),
        (
            "The {product} is {good} and {good2}, but a little {bad}.",
            "这个{product}很{good}，也很{good2}，但是有点{bad}。",
        ),
        ("The delivery took {n} days and the box was in good condition.", "快递用了{n}天，包装完好。"),
        (
            "My friend {name} has the same {product} and likes it too.",
            "我的朋友{name}也有同样的{product}，也很喜欢。",
        ),
        ("After using it every day, I still find it {good}.", "每天使用之后，我仍然觉得它很{good}。"),
        ("I would give it {s1} stars out of five.", "我会给它打{s1}颗星（满分五颗星）。"),
        (
            "If you need a {good} {product}, this one is worth buying.",
            "如果你需要一个{good}的{product}，这个值得购买。",
        ),
    ],
    "cooking": [
        (
            "To make {food}, you need {ingredient}, {ingredient2} and a little salt.",
            "做{food}需要{ingredient}、{ingredient2}和少许盐。",
        ),
        (
            "First, wash the {ingredient} and cut it into small pieces.",
            "首先，把{ingredient}洗干净，切成小块。",
        ),
        ("Then heat the pan for {n} minutes before adding oil.", "然后把锅加热{n}分钟，再倒入油。"),
        ("Add the {ingredient2} and stir it for about {n} minutes.", "加入{ingredient2}，翻炒大约{n}分钟。"),
        (
            "My grandmother always adds some {ingredient} to make it taste better.",
            "我奶奶总是加一些{ingredient}，让味道更好。",
        ),
        ("Serve the {food} hot with {food2}.", "{food}要趁热和{food2}一起吃。"),
        ("This dish is popular in {city} during the {season}.", "这道菜在{city}的{season}很受欢迎。"),
        ("It is enough for {n} people.", "这些分量够{n}个人吃。"),
    ],
    "school": [
        (
            "{name} is a {job} who teaches {subject} at a school in {city}.",
            "{name}是一名{job}，在{city}的一所学校教{subject}。",
        ),
        ("There are {m} students in the class.", "班里有{m}名学生。"),
        (
            "Every {season}, the class goes to {place} to learn outside.",
            "每年{season}，全班都会去{place}上课。",
        ),
        (
            "The students like {subject} because the lessons are {good}.",
            "学生们喜欢{subject}，因为课程很{good}。",
        ),
        ("After school, many of them enjoy {hobby}.", "放学后，他们中很多人喜欢{hobby}。"),
        (
            "{name} says that practice is the key to learning {subject}.",
            "{name}说，练习是学好{subject}的关键。",
        ),
        (
            "Last year, {pct} percent of the students passed the final exam.",
            "去年，{pct}%的学生通过了期末考试。",
        ),
        ("The school library has more than {m} thousand books.", "学校图书馆有超过{m}千本书。"),
    ],
    "sports": [
        (
            "{team} beat {team2} {s1} to {s2} in the {sport} final on Sunday.",
            "周日的{sport}决赛中，{team}以{s1}比{s2}战胜了{team2}。",
        ),
        (
            "The match was played in {city} in front of {m} thousand fans.",
            "比赛在{city}举行，现场有{m}千名球迷。",
        ),
        ("{name} scored {n} points and was named the best player.", "{name}得了{n}分，被评为最佳球员。"),
        ("The coach said the team had trained hard for {n} months.", "教练说，球队已经刻苦训练了{n}个月。"),
        ("{team2} will play again next {season}.", "{team2}将在明年{season}再次参赛。"),
        (
            "Many young people in {city} now play {sport} every weekend.",
            "现在{city}的很多年轻人每个周末都打{sport}。",
        ),
    ],
    "daily": [
        ("{name} works as a {job} in {city}.", "{name}在{city}做{job}。"),
        (
            "Every morning, {name} gets up at {n} o'clock and has {food} for breakfast.",
            "每天早上，{name}{n}点起床，早饭吃{food}。",
        ),
        ("On weekends, {name} likes {hobby} with friends.", "周末，{name}喜欢和朋友们一起{hobby}。"),
        ("{name} has a {animal} at home, and it is very {good}.", "{name}家里养了一只{animal}，它很{good}。"),
        (
            "Yesterday {name} felt {feeling} because of the {weather} weather.",
            "昨天天气{weather}，{name}觉得很{feeling}。",
        ),
        ("{name} is saving money to buy a new {product}.", "{name}正在攒钱买一个新{product}。"),
        ("In the evening, {name} often walks to {place}.", "傍晚，{name}经常散步到{place}。"),
        (
            "{name} believes that a healthy life needs good food and enough sleep.",
            "{name}认为健康的生活需要好的饮食和充足的睡眠。",
        ),
    ],
    "science": [
        ("{fact}", "{fact}"),
        ("{fact2}", "{fact2}"),
        ("Scientists in {city} have studied this for {n} years.", "{city}的科学家已经研究这个问题{n}年了。"),
        ("Teachers often explain this with a simple experiment.", "老师们常用一个简单的实验来解释这一点。"),
        (
            "Many students find {subject} interesting because of facts like this.",
            "许多学生因为这样的知识而觉得{subject}很有趣。",
        ),
        (
            "The {animal} is one of the animals studied in {subject} classes.",
            "{animal}是{subject}课上研究的动物之一。",
        ),
    ],
}

TITLES: dict[str, Pair] = {
    "travel": ("A trip to {city}", "{city}游记"),
    "news": ("{city} plans new {facility}s", "{city}计划新建{facility}"),
    "business": ("{company} reports quarterly results", "{company}发布季度业绩"),
    "weather": ("Weather in {city}", "{city}天气预报"),
    "review": ("Review: my new {product}", "评测：我的新{product}"),
    "cooking": ("How to cook {food}", "{food}的做法"),
    "school": ("Learning {subject} in {city}", "在{city}学习{subject}"),
    "sports": ("{team} win the {sport} final", "{team}夺得{sport}冠军"),
    "daily": ("A day in the life of {name}", "{name}的一天"),
    "science": ("Did you know?", "你知道吗？"),
}

SLOT_POOLS: dict[str, list[Pair]] = {
    "name": NAMES,
    "city": CITIES,
    "city2": CITIES,
    "season": SEASONS,
    "weather": WEATHER,
    "place": PLACES,
    "food": FOODS,
    "food2": FOODS,
    "ingredient": INGREDIENTS,
    "ingredient2": INGREDIENTS,
    "product": PRODUCTS,
    "good": ADJ_GOOD,
    "good2": ADJ_GOOD,
    "bad": ADJ_BAD,
    "job": JOBS,
    "subject": SUBJECTS,
    "company": COMPANIES,
    "industry": INDUSTRIES,
    "facility": FACILITIES,
    "team": TEAMS,
    "team2": TEAMS,
    "sport": SPORTS,
    "animal": ANIMALS,
    "hobby": HOBBIES,
    "feeling": FEELINGS,
    "fact": FACTS,
    "fact2": FACTS,
}

# Other languages, for the planted "wrong language" documents (the cleaning keeps Chinese and English).
OTHER_LANGUAGE_SENTENCES: dict[str, list[str]] = {
    "fr": [
        "Le marché de la ville ouvre tous les matins à huit heures.",
        "Nous avons mangé une très bonne soupe chez mes grands-parents.",
        "Les enfants jouent dans le jardin après l'école.",
        "Il fait beau aujourd'hui, alors nous allons à la plage.",
        "La bibliothèque municipale propose des livres pour tous les âges.",
        "Mon frère travaille comme ingénieur dans une grande entreprise.",
    ],
    "de": [
        "Der Zug nach München fährt um zehn Uhr vom Hauptbahnhof ab.",
        "Wir haben am Wochenende einen langen Spaziergang im Wald gemacht.",
        "Die Kinder lernen in der Schule Mathematik und Geschichte.",
        "Das Wetter ist heute kalt und es regnet seit dem Morgen.",
        "Meine Schwester kocht jeden Sonntag eine große Suppe für die Familie.",
        "Die neue Brücke über den Fluss wurde letztes Jahr eröffnet.",
    ],
    "es": [
        "El tren a Madrid sale a las nueve de la mañana.",
        "Mi abuela prepara una paella deliciosa todos los domingos.",
        "Los estudiantes visitaron el museo de ciencias con su profesor.",
        "Hoy hace mucho calor y todos quieren ir a la piscina.",
        "La nueva biblioteca tiene más de diez mil libros.",
        "Mi hermano juega al fútbol con sus amigos cada tarde.",
    ],
    "ru": [
        "Поезд в Москву отправляется в девять часов утра.",
        "Мы долго гуляли в парке и разговаривали о книгах.",
        "Дети изучают математику и историю в школе.",
        "Сегодня холодно, и на улице идёт снег.",
        "Моя бабушка каждое воскресенье печёт вкусные пироги.",
        "Новая библиотека открылась в центре города.",
    ],
    "ja": [
        "今日はとても天気がいいので、公園を散歩しました。",
        "駅の近くに新しいラーメン屋ができました。",
        "子供たちは学校で算数と歴史を勉強しています。",
        "週末に家族と一緒に温泉へ行く予定です。",
        "この図書館には一万冊以上の本があります。",
        "毎朝コーヒーを飲みながら新聞を読みます。",
    ],
}

NAV_LINES_EN = [
    "Home | News | Sports | Business | Technology | Contact Us",
    "Login | Register | Forgot password?",
    "About Us | Careers | Advertise | Privacy Policy | Terms of Use",
    "Copyright © 2023 All rights reserved.",
    "Follow us on Facebook | Twitter | Instagram",
    "Previous page | Next page | Back to top",
    "Share this article",
    "Subscribe to our newsletter",
    "Related links",
    "Sitemap | Help | Feedback",
]
NAV_LINES_ZH = [
    "首页 | 新闻 | 体育 | 财经 | 科技 | 联系我们",
    "登录 | 注册 | 忘记密码？",
    "关于我们 | 招聘信息 | 广告服务 | 隐私政策 | 使用条款",
    "版权所有 © 2023 保留所有权利",
    "关注我们：微博 | 微信 | 抖音",
    "上一页 | 下一页 | 返回顶部",
    "分享到",
    "订阅我们的新闻",
    "相关链接",
    "网站地图 | 帮助中心 | 意见反馈",
]
SPAM_EN = [
    "BUY CHEAP {product} NOW!!! Best price guaranteed, click here: http://cheap-deals.example/{n}",
    "Free {product} giveaway!!! Limited offer, click here now!!!",
    "Make money fast from home, earn {m} dollars per day, click the link!!!",
    "Hot sale hot sale hot sale {product} {product} {product} discount discount",
]
SPAM_ZH = [
    "特价{product}！！！点击这里立即抢购：http://cheap-deals.example/{n}",
    "免费领取{product}！！！加微信马上领取！！！",
    "在家轻松赚钱，每天收入{m}元，点击链接！！！",
    "热卖热卖热卖{product}{product}{product}打折打折打折",
]
