"""The client book's layout: its sheets, their columns and the words people type for choices.

Everything else (reading, parsing, validating, the template) reads these definitions; a new
column is one Column here, with its rules on the model field.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import models

from ..models import (
    Client,
    ClientStatus,
    Contact,
    Contract,
    ContractStatus,
    Grade,
    LostReason,
    Opportunity,
    OpportunityStage,
    Receivable,
)
from ..validators import credit_code_check_char


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    example: Any = ""


@dataclass(frozen=True)
class SheetSpec:
    code: str
    title: str
    model: type[models.Model]
    columns: tuple[Column, ...]
    aliases: tuple[str, ...] = ()

    def column(self, field_name: str) -> Column:
        return next(c for c in self.columns if c.field == field_name)


# Kinds: text, code (an identifier: no spaces around, numbers kept whole), credit_code,
# money, date, percent, bool, choice; ref_client, ref_contract and employee_no point at
# other rows and are resolved after parsing.
EXAMPLE_CREDIT_CODE = "91310115MA1K00001" + credit_code_check_char("91310115MA1K00001")
EXAMPLE_CONTRACT_NO = "HT-2026-0001"

CLIENTS = SheetSpec(
    code="clients",
    title="客户",
    model=Client,
    aliases=("客户信息", "客户资料", "clients", "client"),
    columns=(
        Column("客户名称", "name", required=True, aliases=("公司名称", "名称"), example="上海示例科技有限公司"),
        Column(
            "统一社会信用代码",
            "credit_code",
            "credit_code",
            required=True,
            aliases=("信用代码", "社会信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("等级", "grade", "choice", aliases=("客户等级",), example="A"),
        Column("行业", "industry", aliases=("所属行业",), example="制造业"),
        Column("区域", "region", aliases=("地区",), example="华东"),
        Column("地址", "address", aliases=("公司地址",), example="上海市浦东新区示例路 1 号"),
        Column("来源渠道", "source_channel", aliases=("来源", "客户来源"), example="展会"),
        Column("负责人工号", "owner", "employee_no", required=True, aliases=("负责人员工号", "工号")),
        Column("状态", "status", "choice", aliases=("客户状态",), example="合作中"),
        # Needed when the status is lost (Client.clean), empty otherwise.
        Column("流失原因", "lost_reason", "choice", aliases=("丢失原因",)),
        Column("当前情况", "current_situation", aliases=("当前状态", "在途订单与售后需求"), example="二期订单执行中"),
        Column(
            "决策链", "decision_chain", aliases=("决策链与关键影响人", "关键影响人"), example="采购部提需求，总经理拍板"
        ),
        Column("偏好与禁忌", "preferences", aliases=("偏好", "禁忌"), example="喜欢微信沟通；周一上午不便拜访"),
        Column("合作历史", "cooperation_history", example="2024 年起合作"),
        Column("潜在需求", "potential_needs", example="明年计划扩建产线"),
    ),
)

CONTACTS = SheetSpec(
    code="contacts",
    title="联系人",
    model=Contact,
    aliases=("客户联系人", "contacts", "contact"),
    columns=(
        Column(
            "统一社会信用代码",
            "client",
            "ref_client",
            required=True,
            aliases=("客户统一社会信用代码", "客户信用代码", "信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("姓名", "name", required=True, aliases=("联系人", "联系人姓名"), example="张三"),
        Column("职位", "position", aliases=("职务",), example="采购经理"),
        Column("电话", "phone", "code", aliases=("手机", "手机号", "联系电话"), example="13800138000"),
        Column("微信", "wechat", aliases=("微信号",), example="zhangsan_wx"),
        Column("邮箱", "email", aliases=("电子邮箱", "email"), example="zhangsan@example.com"),
        Column("关键决策人", "is_key_decision_maker", "bool", aliases=("是否关键决策人",), example="是"),
    ),
)

CONTRACTS = SheetSpec(
    code="contracts",
    title="合同",
    model=Contract,
    aliases=("合同信息", "contracts", "contract"),
    columns=(
        Column("合同编号", "number", "code", required=True, aliases=("合同号",), example=EXAMPLE_CONTRACT_NO),
        Column(
            "统一社会信用代码",
            "client",
            "ref_client",
            required=True,
            aliases=("客户统一社会信用代码", "客户信用代码", "信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("合同名称", "name", required=True, example="2026 年度设备采购合同"),
        Column(
            "签订日期", "signed_on", "date", required=True, aliases=("签约日期",), example=datetime.date(2026, 1, 10)
        ),
        Column("开始日期", "start_date", "date", required=True, example=datetime.date(2026, 1, 15)),
        Column(
            "结束日期", "end_date", "date", required=True, aliases=("截止日期",), example=datetime.date(2026, 12, 31)
        ),
        Column("续约日期", "renewal_date", "date", example=datetime.date(2026, 12, 1)),
        Column("合同金额", "amount", "money", required=True, aliases=("金额",), example=Decimal("100000.00")),
        Column("已付金额", "amount_paid", "money", aliases=("已回款金额", "回款金额"), example=Decimal("40000.00")),
        Column("履约进度(%)", "performance_progress", "percent", aliases=("履约进度",), example=40),
        Column("状态", "status", "choice", aliases=("合同状态",), example="履行中"),
        Column("原件存放处", "original_location", aliases=("原件存放位置", "原件位置"), example="公司档案室 A-3 柜"),
    ),
)

RECEIVABLES = SheetSpec(
    code="receivables",
    title="应收款",
    model=Receivable,
    aliases=("应收账款", "未结款项", "receivables", "receivable"),
    columns=(
        Column("合同编号", "contract", "ref_contract", required=True, aliases=("合同号",), example=EXAMPLE_CONTRACT_NO),
        Column("款项说明", "description", aliases=("说明", "款项"), example="第二期进度款"),
        Column("应收金额", "amount_due", "money", required=True, example=Decimal("30000.00")),
        Column("已收金额", "amount_received", "money", example=Decimal("10000.00")),
        Column(
            "到期日",
            "due_date",
            "date",
            required=True,
            aliases=("到期日期", "应收日期"),
            example=datetime.date(2026, 6, 30),
        ),
    ),
)

DEALS = SheetSpec(
    code="deals",
    title="商机",
    model=Opportunity,
    aliases=("未成交项目", "deals", "deal", "opportunities"),
    columns=(
        Column(
            "统一社会信用代码",
            "client",
            "ref_client",
            required=True,
            aliases=("客户统一社会信用代码", "客户信用代码", "信用代码"),
            example=EXAMPLE_CREDIT_CODE,
        ),
        Column("商机名称", "name", required=True, aliases=("项目名称",), example="二期产线扩容项目"),
        Column("阶段", "stage", "choice", aliases=("商机阶段",), example="方案报价"),
        Column("预计金额", "expected_amount", "money", example=Decimal("50000.00")),
        Column("预计成交日期", "expected_close_date", "date", example=datetime.date(2026, 9, 30)),
        Column("主要异议", "main_objections", example="价格高于竞品 5%"),
        Column("下一步", "next_step", aliases=("下一步计划",), example="本月内安排技术交流"),
    ),
)

SHEETS: tuple[SheetSpec, ...] = (CLIENTS, CONTACTS, CONTRACTS, RECEIVABLES, DEALS)
SHEETS_BY_CODE = {spec.code: spec for spec in SHEETS}

# Chinese words people type for each choice, besides the code and the UI label.
CHOICE_WORDS: dict[tuple[type[models.Model], str], dict[str, tuple[str, ...]]] = {
    (Client, "grade"): {
        Grade.A: ("A类", "A级", "高价值"),
        Grade.B: ("B类", "B级", "潜力", "有潜力"),
        Grade.C: ("C类", "C级", "培育", "待培育"),
    },
    (Client, "status"): {
        ClientStatus.PROSPECT: ("潜在客户", "潜在", "意向客户"),
        ClientStatus.ACTIVE: ("合作中", "正常合作", "活跃"),
        ClientStatus.PAUSED: ("暂停合作", "暂停"),
        ClientStatus.LOST: ("已流失", "流失"),
    },
    (Client, "lost_reason"): {
        LostReason.COMPETITOR: ("竞争对手", "被竞品抢走", "竞品"),
        LostReason.PRICE: ("价格",),
        LostReason.SERVICE: ("服务",),
        LostReason.RELATIONSHIP: ("关系",),
        LostReason.CLOSED: ("倒闭", "停业", "关闭"),
        LostReason.OTHER: ("其他",),
    },
    (Contract, "status"): {
        ContractStatus.DRAFT: ("草拟", "草稿"),
        ContractStatus.ACTIVE: ("履行中", "执行中", "生效"),
        ContractStatus.COMPLETED: ("已完成", "完成", "履行完毕"),
        ContractStatus.TERMINATED: ("已终止", "终止"),
    },
    (Opportunity, "stage"): {
        OpportunityStage.LEAD: ("初步接触", "初次接触"),
        OpportunityStage.NEEDS: ("需求确认", "需求已确认"),
        OpportunityStage.PROPOSAL: ("方案报价", "方案与报价", "报价"),
        OpportunityStage.NEGOTIATION: ("商务谈判", "谈判"),
        OpportunityStage.WON: ("赢单", "已成交", "成交"),
        OpportunityStage.LOST: ("输单", "丢单", "未成交"),
    },
}

TRUE_WORDS = {"是", "y", "yes", "true", "1", "√", "✓", "对", "关键"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "×", "✗", "不是", ""}


def norm_header(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("（", "(").replace("）", ")").replace("＊", "*")
    return re.sub(r"\s+", "", text).strip("*").lower()


def _norm_sheet(value: str) -> str:
    return re.sub(r"\s+", "", value or "").lower()


def spec_for_sheet(title: str) -> SheetSpec | None:
    name = _norm_sheet(title)
    for spec in SHEETS:
        if name == spec.title or name in spec.aliases:
            return spec
    return None
