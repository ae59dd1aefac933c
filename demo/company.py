"""The demo company: three sales departments, every role, and a book of 180 clients.

Everything is drawn from fixed seeds, so running it on the same day gives the same data.
Dates are counted back from today rather than from a fixed date, because "overdue" has to
mean overdue on the day somebody shows the demo.

Running it again creates only what is missing (users by username, departments by code,
clients by credit code) and never rewrites what the demo has changed since: after a
completed handover the clients stay with their new owners, a revoked account stays revoked.
"""

import datetime
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import Department, User
from accounts.roles import Role
from clients.models import (
    OPEN_STAGES,
    ZERO,
    Client,
    ClientStatus,
    Contact,
    Contract,
    ContractStatus,
    FollowUp,
    FollowUpKind,
    LostReason,
    Opportunity,
    OwnershipChange,
    Payment,
    Receivable,
)
from clients.money import format_money
from clients.validators import credit_code_check_char

SEED = 20260115
DEMO_PASSWORD = "Demo@2026"  # noqa: S105 - the published password of the demo accounts
EMAIL_DOMAIN = "demo.example.com"
CENT = Decimal("0.01")

# --- The organisation ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoDepartment:
    code: str
    name: str
    region: str
    cities: tuple[str, ...]


DEPARTMENTS = (
    DemoDepartment("EAST", "华东销售部", "华东", ("上海", "苏州", "杭州", "南京", "宁波", "无锡", "合肥")),
    DemoDepartment("NORTH", "华北销售部", "华北", ("北京", "天津", "济南", "青岛", "石家庄", "太原")),
    DemoDepartment("SOUTH", "华南销售部", "华南", ("广州", "深圳", "东莞", "佛山", "厦门", "珠海")),
)
DEPARTMENT_BY_CODE = {d.code: d for d in DEPARTMENTS}


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    employee_no: str
    phone: str
    roles: tuple[str, ...]
    title: str
    department: str | None = None
    supervisor: str | None = None
    heads: str | None = None
    clients: int = 0
    superuser: bool = False


# Ordered so that everyone's supervisor comes before them.
# fmt: off
USERS = (
    DemoUser("mayongqiang", "马永强", "E1001", "13901861001", (Role.MANAGER,), "分管销售副总经理"),
    DemoUser("wangjianguo", "王建国", "E1101", "13816621101", (Role.SUPERVISOR,), "华东销售部主管",
             department="EAST", supervisor="mayongqiang", heads="EAST"),
    DemoUser("lihua", "李华", "E1102", "13816621102", (Role.SALES,), "华东销售部销售（即将离职）",
             department="EAST", supervisor="wangjianguo", clients=45),
    DemoUser("zhangwei", "张伟", "E1103", "13816621103", (Role.SALES,), "华东销售部销售",
             department="EAST", supervisor="wangjianguo", clients=15),
    DemoUser("chenjing", "陈静", "E1104", "13816621104", (Role.SALES,), "华东销售部销售",
             department="EAST", supervisor="wangjianguo", clients=15),
    DemoUser("liuyang", "刘洋", "E1105", "13816621105", (Role.SALES,), "华东销售部销售",
             department="EAST", supervisor="wangjianguo", clients=15),
    DemoUser("zhaozhiqiang", "赵志强", "E1201", "13910121201", (Role.SUPERVISOR,), "华北销售部主管",
             department="NORTH", supervisor="mayongqiang", heads="NORTH"),
    DemoUser("sunli", "孙丽", "E1202", "13910121202", (Role.SALES,), "华北销售部销售",
             department="NORTH", supervisor="zhaozhiqiang", clients=15),
    DemoUser("zhoujie", "周杰", "E1203", "13910121203", (Role.SALES,), "华北销售部销售",
             department="NORTH", supervisor="zhaozhiqiang", clients=15),
    DemoUser("wumin", "吴敏", "E1204", "13910121204", (Role.SALES,), "华北销售部销售",
             department="NORTH", supervisor="zhaozhiqiang", clients=15),
    DemoUser("huanghaitao", "黄海涛", "E1301", "13922301301", (Role.SUPERVISOR,), "华南销售部主管",
             department="SOUTH", supervisor="mayongqiang", heads="SOUTH"),
    DemoUser("linfang", "林芳", "E1302", "13922301302", (Role.SALES,), "华南销售部销售",
             department="SOUTH", supervisor="huanghaitao", clients=15),
    DemoUser("hejun", "何军", "E1303", "13922301303", (Role.SALES,), "华南销售部销售",
             department="SOUTH", supervisor="huanghaitao", clients=15),
    DemoUser("luoxue", "罗雪", "E1304", "13922301304", (Role.SALES,), "华南销售部销售",
             department="SOUTH", supervisor="huanghaitao", clients=15),
    DemoUser("qianjin", "钱进", "E1401", "13601761401", (Role.WITNESS,), "销售运营部内审专员（监交人）",
             supervisor="mayongqiang"),
    DemoUser("xuxiaoyan", "许晓燕", "E1501", "13601761501", (Role.HR,), "人力资源部 HRBP"),
    DemoUser("admin", "郭明", "E1601", "13601761601", (Role.ADMIN,), "信息部系统管理员", superuser=True),
    # Former salespeople: their handovers were completed months ago (demo/history.py), their
    # accounts revoked. Last, so the clients above are drawn as before.
    DemoUser("gaofeng", "高峰", "E1106", "13816621106", (Role.SALES,), "华东销售部销售（已离职）",
             department="EAST", supervisor="wangjianguo", clients=8),
    DemoUser("songyu", "宋宇", "E1205", "13910121205", (Role.SALES,), "华北销售部销售（已离职）",
             department="NORTH", supervisor="zhaozhiqiang", clients=8),
    DemoUser("tangli", "唐莉", "E1305", "13922301305", (Role.SALES,), "华南销售部销售（已调岗）",
             department="SOUTH", supervisor="huanghaitao", clients=8),
    # On maternity leave: her clients are covered by Wu Min until her return date (demo/handovers.py).
    DemoUser("xuting", "许婷", "E1206", "13910121206", (Role.SALES,), "华北销售部销售（产假中）",
             department="NORTH", supervisor="zhaozhiqiang", clients=6),
)
# fmt: on
USER_BY_USERNAME = {u.username: u for u in USERS}
DEPARTING_USERNAME = "lihua"

_TRY = {
    "lihua": "The departing salesperson with 45 clients (9 grade A): fill in the handover plan, "
    "hand over materials, record joint visits, write the report.",
    "zhangwei": "A receiver in the same department: confirm or dispute handed-over items, confirm joint visits.",
    "chenjing": "A second receiver in the same department: split Li Hua's clients between Zhang Wei and her.",
    "wangjianguo": "Direct supervisor of Li Hua: review each stage, send one back with a reason; "
    "sees the whole East book.",
    "qianjin": "Witness: phone spot-check of the handed-over clients, sign as third party.",
    "mayongqiang": "Manager in charge: approve the plan and the final report; sees every client.",
    "xuxiaoyan": "HR: register Li Hua's departure and start the handover, print and archive the signed confirmation.",
    "admin": "Administrator: Django admin at /admin/, users and roles, every client.",
    "sunli": "A salesperson in another department: must not see Li Hua's clients.",
    "liuyang": "Transferring; his handover is at the materials stage, waiting for Zhang Wei and Chen Jing to confirm.",
    "hejun": "On long leave; his handover waits for the witness's phone spot-check.",
    "linfang": "Resigning; her handover report waits for the manager's final approval.",
    "wumin": "Received Zhou Jie's clients in a completed handover: contact and visit them within the deadlines.",
}
# username -> what the README shows for it; the order is the order of a demo walk-through.
DEMO_LOGINS: dict[str, dict[str, str]] = {
    username: {
        "name": USER_BY_USERNAME[username].full_name,
        "role": ", ".join(str(r) for r in USER_BY_USERNAME[username].roles),
        "title": USER_BY_USERNAME[username].title,
        "password": DEMO_PASSWORD,
        "try": tip,
    }
    for username, tip in _TRY.items()
}

# --- Word pools ---------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    province: str  # "" for the municipalities
    districts: tuple[tuple[str, str], ...]  # (name, administrative division code)
    roads: tuple[str, ...]


# fmt: off
CITIES = {
    "上海": City("", (("浦东新区", "310115"), ("闵行区", "310112"), ("嘉定区", "310114"), ("松江区", "310117")),
                 ("张江路", "金科路", "申江路", "沪闵路", "嘉松北路", "九亭中心路")),
    "苏州": City("江苏省", (("工业园区", "320571"), ("吴中区", "320506"), ("相城区", "320507"), ("昆山市", "320583")),
                 ("星湖街", "金鸡湖大道", "东吴北路", "澄阳路", "前进西路")),
    "杭州": City("浙江省", (("西湖区", "330106"), ("滨江区", "330108"), ("余杭区", "330110"), ("萧山区", "330109")),
                 ("文三路", "江南大道", "文一西路", "建设一路")),
    "南京": City("江苏省", (("江宁区", "320115"), ("玄武区", "320102"), ("栖霞区", "320113")),
                 ("胜太路", "珠江路", "仙林大道")),
    "宁波": City("浙江省", (("鄞州区", "330212"), ("北仑区", "330206")), ("天童南路", "明州路")),
    "无锡": City("江苏省", (("新吴区", "320214"), ("滨湖区", "320211")), ("长江路", "蠡湖大道")),
    "合肥": City("安徽省", (("蜀山区", "340104"), ("包河区", "340111")), ("望江西路", "繁华大道")),
    "北京": City("", (("朝阳区", "110105"), ("海淀区", "110108"), ("大兴区", "110115"), ("顺义区", "110113")),
                 ("酒仙桥路", "中关村大街", "荣华南路", "林河大街")),
    "天津": City("", (("滨海新区", "120116"), ("西青区", "120111")), ("黄海路", "海泰南道")),
    "济南": City("山东省", (("历下区", "370102"), ("历城区", "370112")), ("经十路", "工业北路")),
    "青岛": City("山东省", (("黄岛区", "370211"), ("崂山区", "370212")), ("长江中路", "株洲路")),
    "石家庄": City("河北省", (("长安区", "130102"), ("裕华区", "130108")), ("中山东路", "槐安东路")),
    "太原": City("山西省", (("小店区", "140105"),), ("长治路", "坞城路")),
    "广州": City("广东省", (("天河区", "440106"), ("黄埔区", "440112"), ("番禺区", "440113")),
                 ("天河路", "科学大道", "市广路")),
    "深圳": City("广东省", (("南山区", "440305"), ("宝安区", "440306"), ("龙岗区", "440307")),
                 ("科技园南路", "宝安大道", "龙岗大道")),
    "东莞": City("广东省", (("松山湖", "441900"), ("长安镇", "441900")), ("工业西路", "新城路")),
    "佛山": City("广东省", (("顺德区", "440606"), ("南海区", "440605")), ("北滘大道", "桂澜路")),
    "厦门": City("福建省", (("思明区", "350203"), ("湖里区", "350206")), ("观日路", "湖里大道")),
    "珠海": City("广东省", (("香洲区", "440402"),), ("情侣中路", "兴业路")),
}
# fmt: on

# (characters, pinyin): the pinyin makes e-mail addresses and WeChat ids.
# fmt: off
BRANDS = (
    ("瑞丰", "ruifeng"), ("鼎盛", "dingsheng"), ("博远", "boyuan"), ("天成", "tiancheng"), ("金桥", "jinqiao"),
    ("永兴", "yongxing"), ("海纳", "haina"), ("同创", "tongchuang"), ("佳禾", "jiahe"), ("远航", "yuanhang"),
    ("华信", "huaxin"), ("宏达", "hongda"), ("新锐", "xinrui"), ("嘉诚", "jiacheng"), ("众邦", "zhongbang"),
    ("科瑞", "kerui"), ("立达", "lida"), ("创益", "chuangyi"), ("中域", "zhongyu"), ("凯捷", "kaijie"),
    ("普泰", "putai"), ("晟通", "shengtong"), ("鑫源", "xinyuan"), ("昊天", "haotian"), ("欣达", "xinda"),
    ("卓越", "zhuoyue"), ("东升", "dongsheng"), ("汇通", "huitong"), ("联创", "lianchuang"), ("天润", "tianrun"),
    ("合众", "hezhong"), ("星河", "xinghe"), ("万泰", "wantai"), ("九州", "jiuzhou"), ("锦程", "jincheng"),
    ("弘毅", "hongyi"), ("启明", "qiming"), ("德润", "derun"), ("安捷", "anjie"), ("精诚", "jingcheng"),
    ("云帆", "yunfan"), ("朗坤", "langkun"), ("华晟", "huasheng"), ("索维", "suowei"), ("诺德", "nuode"),
)
# fmt: on
# (word in the company name, industry)
# fmt: off
INDUSTRY_WORDS = (
    ("精密机械", "机械制造"), ("智能装备", "机械制造"), ("新材料", "新材料"), ("医疗器械", "医疗器械"),
    ("生物医药", "医药"), ("电子科技", "电子信息"), ("半导体", "电子信息"), ("食品", "食品饮料"),
    ("供应链管理", "物流运输"), ("物流", "物流运输"), ("化工", "化工"), ("汽车零部件", "汽车零部件"),
    ("新能源科技", "新能源"), ("环保科技", "环保"), ("建材", "建筑建材"), ("信息技术", "软件与信息服务"),
    ("纺织", "纺织服装"), ("包装材料", "包装印刷"), ("塑胶制品", "橡胶塑料"), ("五金制品", "金属制品"),
)
# fmt: on
# fmt: off
SURNAMES = (
    ("张", "zhang"), ("王", "wang"), ("李", "li"), ("赵", "zhao"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("黄", "huang"), ("周", "zhou"), ("吴", "wu"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"),
    ("胡", "hu"), ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"), ("郑", "zheng"),
    ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"),
    ("曹", "cao"), ("彭", "peng"), ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("潘", "pan"),
    ("袁", "yuan"), ("蔡", "cai"), ("蒋", "jiang"), ("余", "yu"), ("杜", "du"), ("叶", "ye"), ("程", "cheng"),
    ("魏", "wei"), ("苏", "su"), ("丁", "ding"), ("任", "ren"), ("沈", "shen"), ("姚", "yao"), ("陆", "lu"),
)
# fmt: on
# fmt: off
GIVEN = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"), ("强", "qiang"),
    ("磊", "lei"), ("军", "jun"), ("洋", "yang"), ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("建", "jian"),
    ("国", "guo"), ("华", "hua"), ("志", "zhi"), ("文", "wen"), ("斌", "bin"), ("辉", "hui"), ("鹏", "peng"),
    ("宇", "yu"), ("浩", "hao"), ("晨", "chen"), ("欣", "xin"), ("婷", "ting"), ("雪", "xue"), ("琳", "lin"),
    ("凯", "kai"), ("帆", "fan"), ("玲", "ling"), ("峰", "feng"), ("亮", "liang"), ("红", "hong"), ("海", "hai"),
    ("波", "bo"), ("瑞", "rui"), ("博", "bo"), ("慧", "hui"), ("颖", "ying"), ("昊", "hao"), ("倩", "qian"),
)
# fmt: on
DECISION_MAKER_POSITIONS = ("总经理", "董事长", "副总经理", "厂长", "运营总监")
OTHER_POSITIONS = ("采购经理", "采购主管", "技术总监", "设备部经理", "生产总监", "财务经理", "项目经理", "质量部经理")
# fmt: off
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "157",
    "158", "159", "166", "173", "175", "176", "177", "180", "181", "182", "183", "185", "186", "187", "188",
    "189", "191", "193", "198", "199",
)
# fmt: on
SOURCE_CHANNELS = ("展会", "老客户转介绍", "官网咨询", "电话开发", "招投标", "行业协会", "渠道合作伙伴", "公司分配")

EQUIPMENT = ("数控加工中心", "工业机器人工作站", "自动化装配线", "PLC 控制柜", "视觉检测设备", "激光打标机")
SYSTEMS = ("MES 生产执行系统", "WMS 仓储管理系统", "设备物联网平台", "质量追溯系统", "能源管理系统")
# fmt: off
DEAL_NAMES = (
    "二期产线自动化改造", "新厂区设备配套", "MES 系统升级", "年度维保续约", "备品备件集中采购",
    "质量追溯系统", "仓储自动化改造", "能耗监测平台", "老旧设备以旧换新", "机器人焊接工作站",
)
# fmt: on
ARCHIVES = ("公司档案室 {letter}-{n:02d} 柜", "{dept}资料柜 {n:02d} 号", "法务部合同库 {letter}-{n:02d}")


@dataclass(frozen=True)
class ContractKind:
    name: str
    products: tuple[str, ...]
    durations: tuple[int, ...]
    # (description, percent of the amount, due at this fraction of the term, plus days)
    installments: tuple[tuple[str, int, float, int], ...]
    renews: bool


# fmt: off
CONTRACT_KINDS = (
    ContractKind("{product}采购合同", EQUIPMENT, (365,),
                 (("预付款", 30, 0.0, 10), ("到货验收款", 60, 0.5, 0), ("质保金", 10, 1.0, 30)), False),
    ContractKind("{year}年度备品备件框架协议", ("",), (365,),
                 (("第一季度货款", 25, 0.25, 15), ("第二季度货款", 25, 0.5, 15),
                  ("第三季度货款", 25, 0.75, 15), ("第四季度货款", 25, 1.0, 15)), True),
    ContractKind("{product}实施项目合同", SYSTEMS, (180, 240, 300),
                 (("签约首付款", 40, 0.0, 15), ("上线款", 40, 0.7, 0), ("验收尾款", 20, 1.0, 30)), False),
    ContractKind("{year}年度设备维保服务合同", ("",), (365,),
                 (("上半年服务费", 50, 0.0, 15), ("下半年服务费", 50, 0.5, 15)), True),
)
# fmt: on

SITUATIONS = {
    ClientStatus.ACTIVE: (
        "二期设备已到货，正在安装调试，预计下月验收。",
        "年度框架协议执行中，本季度已下 3 笔备件订单。",
        "MES 上线两个月，客户反馈报表导出慢，售后正在优化。",
        "有 2 台设备仍在保修期内，客户要求每季度巡检一次。",
        "客户财务流程调整，付款审批周期由 30 天延长到 60 天。",
        "新一批订单在排产中，客户催交期，需每周同步进度。",
    ),
    ClientStatus.PROSPECT: (
        "已完成技术交流和现场勘察，等待客户内部立项。",
        "客户在比较三家供应商方案，我方报价已提交。",
        "展会上留资，已电话沟通一次，需求尚不明确。",
        "样机试用中，客户技术部在出测试报告。",
    ),
    ClientStatus.PAUSED: (
        "客户产线搬迁，新项目暂停，预计明年二季度重启。",
        "上一期合同结束后未续约，客户预算收紧，保持季度拜访。",
    ),
    ClientStatus.LOST: (
        "去年被竞品低价替换，保持节日问候，关注对方服务质量问题。",
        "客户被集团收购后改为集团集中采购，暂无合作机会。",
    ),
}
INFLUENCERS = (
    "集团采购中心对 50 万元以上项目有否决权。",
    "老板娘管财务，付款节奏由她决定。",
    "设备部经理对技术参数话语权很大，方案需先过他这一关。",
    "外部顾问公司参与选型评分，需提前沟通。",
    "",
)
PREFERENCES = (
    "喜欢先看样机再谈价格；忌讳电话推销，约见需提前两天微信预约。",
    "重视交期和售后响应速度；反感频繁更换对接人。",
    "总经理喜欢喝茶聊行业趋势，不喜欢饭局应酬。",
    "采购流程严格，所有报价须走邮件正式发出；不接受口头承诺。",
    "对价格敏感，习惯压价两轮以上；忌讳在其竞争对手面前提及其项目。",
    "偏好国产品牌，重视本地化服务；不喜欢周五下午打扰。",
    "注重合规，礼品价值不得超过 200 元；节日问候以邮件为主。",
    "技术总监看重数据和同行业案例；忌讳夸大参数。",
    "外资背景，习惯邮件加会议纪要；不接受未预约的上门拜访。",
)
HISTORY_NOTES = (
    "合作稳定，回款基本及时。",
    "期间发生过一次交期延误，已协调补偿解决，客户满意度恢复。",
    "曾因售后响应慢被投诉一次，此后安排工程师定期驻场。",
    "客户多次转介绍同行，是区域内的标杆案例。",
    "",
)
NEEDS = (
    "计划明年新建一条自动化产线，预算约 {n} 万元。",
    "老设备使用超过 10 年，有以旧换新需求。",
    "有意将仓储改为立体库，正在做可行性评估。",
    "集团推行数字化工厂，各子公司 MES 需统一升级。",
    "新厂区预计明年投产，需配套检测设备。",
    "考虑将设备维保外包，希望我方提供全包服务方案。",
)
FOLLOW_UP_CONTENT = {
    FollowUpKind.VISIT: (
        "上门拜访{who}，参观车间，了解二期产线规划。",
        "与{who}当面沟通续约条款，客户希望单价下调 5%。",
        "陪同技术工程师现场调试，{who}对交付质量表示认可。",
        "拜访{who}，介绍新产品线并递交样册。",
    ),
    FollowUpKind.PHONE: (
        "电话联系{who}，确认下月到货时间。",
        "电话催收应收款，{who}表示财务本周安排付款。",
        "电话回访设备使用情况，{who}反馈运行稳定。",
    ),
    FollowUpKind.WECHAT: (
        "微信发送最新报价单给{who}，对方已读待回复。",
        "微信沟通验收资料清单，{who}要求补充检测报告。",
        "节日问候{who}，顺带约下周见面时间。",
    ),
    FollowUpKind.EMAIL: (
        "邮件发送技术方案 V2 及报价给{who}，抄送采购部。",
        "邮件向{who}确认会议纪要及双方分工。",
        "邮件寄送对账单，请{who}核对应收余额。",
    ),
}
OBJECTIONS = (
    "价格比竞品高约 8%。",
    "担心交期赶不上新厂投产。",
    "对售后响应时间有顾虑，要求 4 小时到场。",
    "希望付款方式改为 3/6/1。",
    "内部预算尚未批复。",
    "对新系统与现有 ERP 的对接有顾虑。",
)
COMMITMENTS = (
    "承诺月底前提供优化报价。",
    "承诺免费延长质保 6 个月。",
    "承诺下周安排工程师上门培训。",
    "承诺协调加急发货，两周内到货。",
    "承诺安排参观同行业案例工厂。",
)
NEXT_PLANS = (
    "下周二再次拜访，带技术总监一起。",
    "月底前跟进付款进度。",
    "等客户内部立项结果，两周后电话跟进。",
    "安排样机试用。",
    "准备续约方案，下月初提交。",
)
NEXT_STEPS = (
    "提交修改后的技术方案和报价。",
    "安排客户参观样板工厂。",
    "约采购和财务一起谈付款条件。",
    "等待客户招标文件，准备投标。",
    "请技术部出具对接 ERP 的接口方案。",
)
# Overdue days forced on one receivable of some clients, so every aging bucket has rows
# on any day: the departing salesperson's first clients, then one client of each colleague.
DEPARTING_FORCED_OVERDUE = (8, 22, 41, 77, 104, 150, 215, 400)
OTHERS_FORCED_OVERDUE = (15, 60, 120, 240)


# --- Building blocks (also used by the benchmarks) ----------------------------------------


def organization_code(serial: int) -> str:
    """A nine-character organisation code (GB 11714): eight digits and their check character."""
    body = f"{serial % 10**8:08d}"
    remainder = 11 - sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return body + {10: "X", 11: "0"}.get(remainder, str(remainder))


def credit_code(region_code: str, serial: int) -> str:
    """A valid unified social credit code of an enterprise (91) registered in that region."""
    first17 = f"91{region_code}{organization_code(serial)}"
    return first17 + credit_code_check_char(first17)


def company_name(rng: random.Random, city: str, *, large: bool = False) -> tuple[str, str, str]:
    """(company name, industry, brand pinyin) for a company in that city."""
    brand, brand_pinyin = rng.choice(BRANDS)
    word, industry = rng.choice(INDUSTRY_WORDS)
    suffix = "股份有限公司" if large and rng.random() < 0.5 else "有限公司"
    # Most put the city first; some foreign-style names put it in brackets.
    name = f"{brand}{word}（{city}）{suffix}" if rng.random() < 0.2 else f"{city}{brand}{word}{suffix}"
    return name, industry, brand_pinyin


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def money(rng: random.Random, grade: str) -> Decimal:
    """A contract-sized amount for a client of that grade, in steps of 500 yuan."""
    low, high = {"A": (600, 6000), "B": (160, 1200), "C": (20, 300)}[grade]
    return Decimal(rng.randint(low, high) * 500).quantize(CENT)


def _aware(day: datetime.date, rng: random.Random) -> datetime.datetime:
    moment = datetime.datetime.combine(day, datetime.time(rng.randint(9, 17), rng.choice((0, 15, 30, 45))))
    return timezone.make_aware(moment)


def _split(amount: Decimal, percents: list[int]) -> list[Decimal]:
    parts = [(amount * pct / 100).quantize(CENT) for pct in percents[:-1]]
    return [*parts, amount - sum(parts, ZERO)]


def _unpaid_probability(overdue_days: int) -> float:
    # Recent instalments are more often still open than old ones.
    if overdue_days <= 30:
        return 0.45
    if overdue_days <= 90:
        return 0.25
    if overdue_days <= 180:
        return 0.12
    return 0.06


# --- The book -----------------------------------------------------------------------------


@dataclass
class ClientBundle:
    """One client and everything hanging off it, built in memory before any query."""

    owner: str  # username
    client: Client
    since: datetime.date
    contacts: list[Contact] = field(default_factory=list)
    contracts: list[tuple[Contract, list[Receivable]]] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)
    follow_ups: list[FollowUp] = field(default_factory=list)


def build_demo_book(today: datetime.date) -> list[ClientBundle]:
    """Every demo client with its contacts, contracts, receivables, deals and follow-ups.

    Names and credit codes come from one generator and never depend on the date; each
    client's details come from a generator seeded with its credit code, so one client's
    dates cannot shift another client's data.
    """
    rng = random.Random(SEED)
    names: set[str] = set()
    codes: set[str] = set()
    bundles: list[ClientBundle] = []
    contract_seq = 0
    colleague = 0
    for user in USERS:
        if not user.clients:
            continue
        department = DEPARTMENT_BY_CODE[user.department]
        n_a, n_b = round(user.clients * 0.2), round(user.clients * 0.4)
        grades = ["A"] * n_a + ["B"] * n_b + ["C"] * (user.clients - n_a - n_b)
        rng.shuffle(grades)
        if user.username == DEPARTING_USERNAME:
            forced = DEPARTING_FORCED_OVERDUE
        else:
            forced = (OTHERS_FORCED_OVERDUE[colleague % len(OTHERS_FORCED_OVERDUE)],)
            colleague += 1
        for k, grade in enumerate(grades):
            city = rng.choice(department.cities)
            district, region_code = rng.choice(CITIES[city].districts)
            name, industry, brand_pinyin = company_name(rng, city, large=grade == "A")
            while name in names:
                name, industry, brand_pinyin = company_name(rng, city, large=grade == "A")
            names.add(name)
            code = credit_code(region_code, rng.randrange(10**7, 10**8))
            while code in codes:
                code = credit_code(region_code, rng.randrange(10**7, 10**8))
            codes.add(code)
            force = forced[k] if k < len(forced) else None
            bundle = _client_bundle(
                random.Random(f"{SEED}:{code}"),
                today=today,
                owner=user,
                department=department,
                grade=grade,
                name=name,
                code=code,
                industry=industry,
                brand_pinyin=brand_pinyin,
                city=city,
                district=district,
                first_contract_seq=contract_seq + 1,
                force_overdue_days=force,
            )
            contract_seq += len(bundle.contracts)
            bundles.append(bundle)
    return bundles


def _client_bundle(
    rng: random.Random,
    *,
    today: datetime.date,
    owner: DemoUser,
    department: DemoDepartment,
    grade: str,
    name: str,
    code: str,
    industry: str,
    brand_pinyin: str,
    city: str,
    district: str,
    first_contract_seq: int,
    force_overdue_days: int | None,
) -> ClientBundle:
    # Counts first, and independent of the date, so contract numbers never shift.
    n_contacts = rng.choice({"A": (2, 3, 3), "B": (1, 2, 3), "C": (1, 1, 2)}[grade])
    n_contracts = rng.choice({"A": (1, 2, 2, 3), "B": (0, 1, 1, 2), "C": (0, 0, 1, 1)}[grade])
    if force_overdue_days is not None:
        n_contracts = max(n_contracts, 1)

    city_info = CITIES[city]
    address = f"{city_info.province}{city}市{district}{rng.choice(city_info.roads)}{rng.randint(1, 2999)}号"
    if rng.random() < 0.5:
        address += f"{rng.randint(1, 12)}号楼"
    client = Client(
        name=name,
        credit_code=code,
        grade=grade,
        industry=industry,
        region=department.region,
        address=address,
        source_channel=rng.choice(SOURCE_CHANNELS),
    )
    bundle = ClientBundle(owner=owner.username, client=client, since=today)

    contacts = _contacts(rng, client, n_contacts, brand_pinyin)
    bundle.contacts = contacts
    for i in range(n_contracts):
        bundle.contracts.append(
            _contract(
                rng,
                client=client,
                seq=first_contract_seq + i,
                grade=grade,
                today=today,
                department=department,
                force_overdue_days=force_overdue_days if i == 0 else None,
            )
        )

    if bundle.contracts:
        first_signed = min(c.signed_on for c, _ in bundle.contracts)
        bundle.since = first_signed - datetime.timedelta(days=rng.randint(30, 200))
        all_ended = all(c.end_date < today for c, _ in bundle.contracts)
        roll = rng.random()
        if all_ended and roll < 0.35:
            client.status = ClientStatus.PAUSED
        elif all_ended and roll < 0.5:
            client.status = ClientStatus.LOST
            # A lost client says why (Client.clean); the situations above speak of a competitor (no
            # draw from rng here, so the rest of the demo stays as it was).
            client.lost_reason = LostReason.COMPETITOR
            client.lost_at = timezone.now()
        else:
            client.status = ClientStatus.ACTIVE
    else:
        bundle.since = today - datetime.timedelta(days=rng.randint(45, 400))
        client.status = ClientStatus.PROSPECT

    n_deals = rng.choice(
        (1, 1, 2)
        if client.status == ClientStatus.PROSPECT
        else {"A": (0, 1, 1, 2), "B": (0, 0, 1, 1, 2), "C": (0, 0, 0, 1)}[grade]
    )
    if client.status == ClientStatus.LOST:
        n_deals = 0
    for deal_name in rng.sample(DEAL_NAMES, n_deals):
        bundle.opportunities.append(
            Opportunity(
                client=client,
                name=deal_name,
                stage=rng.choices(OPEN_STAGES, weights=(2, 3, 3, 2))[0],
                expected_amount=money(rng, grade),
                expected_close_date=today + datetime.timedelta(days=rng.randint(10, 180)),
                main_objections=rng.choice(OBJECTIONS),
                next_step=rng.choice(NEXT_STEPS),
            )
        )

    n_follow_ups = rng.randint(*{"A": (3, 5), "B": (2, 4), "C": (2, 3)}[grade])
    window = min(240, (today - bundle.since).days)
    for days_ago in sorted(rng.sample(range(1, window), n_follow_ups), reverse=True):
        day = today - datetime.timedelta(days=days_ago)
        kind = rng.choices(list(FollowUpKind), weights=(35, 30, 25, 10))[0]
        contact = rng.choice(contacts)
        bundle.follow_ups.append(
            FollowUp(
                client=client,
                date=day,
                kind=kind,
                contact=contact,
                content=rng.choice(FOLLOW_UP_CONTENT[kind]).format(who=f"{contact.position}{contact.name}"),
                objections=rng.choice(OBJECTIONS) if rng.random() < 0.5 else "",
                commitments=rng.choice(COMMITMENTS) if rng.random() < 0.4 else "",
                next_plan=rng.choice(NEXT_PLANS),
                created_at=_aware(day, rng),
            )
        )

    client.current_situation = rng.choice(SITUATIONS[client.status])
    client.decision_chain = _decision_chain(rng, contacts)
    client.preferences = rng.choice(PREFERENCES)
    client.cooperation_history = _history(rng, client, bundle)
    client.potential_needs = rng.choice(NEEDS).format(n=rng.choice((80, 120, 200, 350, 500)))
    return bundle


def _contacts(rng: random.Random, client: Client, count: int, brand_pinyin: str) -> list[Contact]:
    contacts: list[Contact] = []
    used: set[str] = set()
    positions = rng.sample(OTHER_POSITIONS, count - 1)
    while len(contacts) < count:
        surname, surname_py = rng.choice(SURNAMES)
        given = rng.sample(GIVEN, rng.choice((1, 2, 2)))
        name = surname + "".join(c for c, _ in given)
        if name in used:
            continue
        used.add(name)
        given_py = "".join(p for _, p in given)
        key = not contacts
        wechat = ""
        if rng.random() < 0.85:
            if rng.random() < 0.6:
                wechat = f"{surname_py}{given_py}{rng.randint(70, 99)}"
            else:
                wechat = f"wxid_{rng.randrange(16**10):010x}"
        contacts.append(
            Contact(
                client=client,
                name=name,
                position=rng.choice(DECISION_MAKER_POSITIONS) if key else positions[len(contacts) - 1],
                phone=mobile(rng),
                email=f"{surname_py}.{given_py}@{brand_pinyin}.example.com",
                wechat=wechat,
                is_key_decision_maker=key,
            )
        )
    return contacts


def _contract(
    rng: random.Random,
    *,
    client: Client,
    seq: int,
    grade: str,
    today: datetime.date,
    department: DemoDepartment,
    force_overdue_days: int | None,
) -> tuple[Contract, list[Receivable]]:
    kind = rng.choice(CONTRACT_KINDS)
    product = rng.choice(kind.products)
    duration = rng.choice(kind.durations)
    offsets = [round(duration * frac) + extra for _, _, frac, extra in kind.installments]
    forced_index = None
    if force_overdue_days is not None:
        forced_index = rng.randrange(len(offsets))
        age = offsets[forced_index] + force_overdue_days
    else:
        age = rng.randint(20, 1100)
    start = today - datetime.timedelta(days=age)
    signed = start - datetime.timedelta(days=rng.randint(3, 25))
    end = start + datetime.timedelta(days=duration - 1)
    amount = money(rng, grade)

    receivables = []
    for index, ((label, pct, _, _), offset, part) in enumerate(
        zip(kind.installments, offsets, _split(amount, [i[1] for i in kind.installments]), strict=True)
    ):
        due = start + datetime.timedelta(days=offset)
        overdue_days = (today - due).days
        received = part
        if overdue_days <= 0:
            received = ZERO
        elif index == forced_index or rng.random() < _unpaid_probability(overdue_days):
            share = Decimal(rng.randint(3, 7)) / 10 if rng.random() < 0.5 else ZERO
            # Partly paid in round hundreds, always leaving something open.
            received = min((part * share / 100).to_integral_value(ROUND_DOWN) * 100, part - 100).quantize(CENT)
        receivables.append(
            Receivable(description=f"{label}（{pct}%）", amount_due=part, amount_received=received, due_date=due)
        )

    elapsed = (today - start).days
    progress = 100 if elapsed >= duration else max(0, round(elapsed * 100 / duration / 5) * 5)
    archive = rng.choice(ARCHIVES).format(letter=rng.choice("ABC"), n=rng.randint(1, 30), dept=department.name)
    contract = Contract(
        client=client,
        number=f"HT-{signed.year}-{seq:04d}",
        name=kind.name.format(product=product, year=start.year),
        signed_on=signed,
        start_date=start,
        end_date=end,
        renewal_date=end + datetime.timedelta(days=1) if kind.renews else None,
        amount=amount,
        amount_paid=sum((r.amount_received for r in receivables), ZERO),
        performance_progress=progress,
        status=ContractStatus.COMPLETED if end < today else ContractStatus.ACTIVE,
        original_location=archive,
    )
    return contract, receivables


def _decision_chain(rng: random.Random, contacts: list[Contact]) -> str:
    key, *others = contacts
    if not others:
        return f"{key.position}{key.name}一人拍板，决策快，但对价格很敏感。"
    parts = [f"{key.position}{key.name}拍板", f"{others[0].position}{others[0].name}负责比价和商务谈判"]
    if len(others) > 1:
        parts.append(f"技术方案需{others[1].position}{others[1].name}签字确认")
    return "；".join(parts) + "。" + rng.choice(INFLUENCERS)


def _history(rng: random.Random, client: Client, bundle: ClientBundle) -> str:
    if not bundle.contracts:
        return f"尚未成交。经{client.source_channel}获得线索，已技术交流 {rng.randint(1, 4)} 次。"
    contracts = sorted((c for c, _ in bundle.contracts), key=lambda c: c.signed_on)
    total = sum((c.amount for c in contracts), ZERO)
    text = (
        f"{bundle.since.year} 年经{client.source_channel}结识，{contracts[0].signed_on:%Y 年 %m 月}首次签约"
        f"（{contracts[0].name}）；累计签约 {len(contracts)} 份，合同总额{format_money(total)}。"
    )
    return text + rng.choice(HISTORY_NOTES)


# --- Writing it ---------------------------------------------------------------------------


@transaction.atomic
def demo_seed(*, stdout=None) -> dict[str, int]:
    """Create whatever of the demo company is missing; returns how many rows of each kind it created."""
    created: Counter[str] = Counter()
    departments = _seed_departments(created)
    users = _seed_users(departments, created)
    book = build_demo_book(timezone.localdate())
    _seed_book(book, users, created)
    counts = {
        key: created[key]
        for key in (
            "departments",
            "users",
            "clients",
            "contacts",
            "contracts",
            "receivables",
            "opportunities",
            "follow_ups",
            "ownership_changes",
        )
    }
    if stdout is not None:
        stdout.write("Created: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
    return counts


def _seed_departments(created: Counter) -> dict[str, Department]:
    departments = {}
    for spec in DEPARTMENTS:
        department, was_created = Department.objects.get_or_create(code=spec.code, defaults={"name": spec.name})
        departments[spec.code] = department
        created["departments"] += was_created
    return departments


def _seed_users(departments: dict[str, Department], created: Counter) -> dict[str, User]:
    groups = {g.name: g for g in Group.objects.filter(name__in=[str(r) for r in Role])}
    missing_roles = {str(r) for r in Role} - set(groups)
    if missing_roles:
        raise CommandError(f"Role groups missing ({', '.join(sorted(missing_roles))}); run migrate first.")

    users = {u.username: u for u in User.objects.filter(username__in=[spec.username for spec in USERS])}
    # One hash for every demo account: hashing is deliberately slow, and they share the password.
    password = make_password(DEMO_PASSWORD) if len(users) < len(USERS) else ""
    for spec in USERS:
        if spec.username in users:
            continue
        user = User.objects.create(
            username=spec.username,
            password=password,
            full_name=spec.full_name,
            last_name=spec.full_name[0],
            first_name=spec.full_name[1:],
            employee_no=spec.employee_no,
            phone=spec.phone,
            email=f"{spec.username}@{EMAIL_DOMAIN}",
            department=departments.get(spec.department),
            supervisor=users.get(spec.supervisor),
            # HR reads the access log and manages accounts in the admin.
            is_staff=spec.superuser or Role.HR in spec.roles,
            is_superuser=spec.superuser,
        )
        user.groups.set([groups[str(role)] for role in spec.roles])
        users[spec.username] = user
        created["users"] += 1

    for spec in USERS:
        department = departments.get(spec.heads)
        if department is not None and department.head_id is None:
            department.head = users[spec.username]
            department.save(update_fields=["head"])
    # A departure the HR system registers (POST /api/hr/departures/) takes these.
    for department in departments.values():
        if department.default_witness_id is None:
            department.default_witness = users["qianjin"]
            department.default_manager = users["mayongqiang"]
            department.save(update_fields=["default_witness", "default_manager"])
    return users


def _seed_book(book: list[ClientBundle], users: dict[str, User], created: Counter) -> None:
    existing = set(
        Client.objects.filter(credit_code__in=[b.client.credit_code for b in book]).values_list(
            "credit_code", flat=True
        )
    )
    new = [b for b in book if b.client.credit_code not in existing]
    if not new:
        return
    taken_numbers = set(
        Contract.objects.filter(number__in=[c.number for b in new for c, _ in b.contracts]).values_list(
            "number", flat=True
        )
    )
    for bundle in new:
        owner = users[bundle.owner]
        bundle.client.owner = owner
        for follow_up in bundle.follow_ups:
            follow_up.created_by = owner
        # A contract number somebody already used by hand stays theirs; the demo skips its copy.
        bundle.contracts = [(c, r) for c, r in bundle.contracts if c.number not in taken_numbers]

    Client.objects.bulk_create([b.client for b in new])
    # The objects assigned before the parents had ids pick the ids up on bulk_create.
    contacts = Contact.objects.bulk_create([c for b in new for c in b.contacts])
    contracts = Contract.objects.bulk_create([c for b in new for c, _ in b.contracts])
    receivables = []
    for bundle in new:
        for contract, rows in bundle.contracts:
            for row in rows:
                row.contract = contract
                receivables.append(row)
    Receivable.objects.bulk_create(receivables)
    # What was received, paid on its due day (only receivables already due have anything received).
    Payment.objects.bulk_create(
        Payment(receivable=r, date=r.due_date, amount=r.amount_received) for r in receivables if r.amount_received
    )
    opportunities = Opportunity.objects.bulk_create([o for b in new for o in b.opportunities])
    follow_ups = FollowUp.objects.bulk_create([f for b in new for f in b.follow_ups])
    changes = OwnershipChange.objects.bulk_create(
        OwnershipChange(
            client=b.client,
            from_owner=None,
            to_owner=users[b.owner],
            changed_at=timezone.make_aware(datetime.datetime.combine(b.since, datetime.time(9, 0))),
            reason="新客户建档，分配给客户经理",
            changed_by=users[b.owner].supervisor,
        )
        for b in new
    )

    created["clients"] += len(new)
    created["contacts"] += len(contacts)
    created["contracts"] += len(contracts)
    created["receivables"] += len(receivables)
    created["opportunities"] += len(opportunities)
    created["follow_ups"] += len(follow_ups)
    created["ownership_changes"] += len(changes)
